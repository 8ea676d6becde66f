"""Wire models of the REST API (docs/protocol.md "REST"), camelCase on the wire. Requests are
validated with them; responses are described by them in `/openapi.json`, and the responses
built from a core value (`dump_execution_result`, `dump_completion`) are serialized by them,
so each of those shapes has this one definition."""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    StrictInt,
    StrictStr,
    field_validator,
)
from pydantic.alias_generators import to_camel

from server.errors import UnsupportedLanguage

if TYPE_CHECKING:
    from editor_core.completion import model as completion
    from editor_core.execution import result as execution


class Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# -- requests ------------------------------------------------------------------------------


class RequestBody(Wire):
    """A JSON request body. A field it does not declare is refused (422 `validation_error`),
    as in WebSocket messages (docs/protocol.md "Unknown fields"): a misspelt `cursorPositon`
    fails loudly instead of being dropped; `/openapi.json` says `additionalProperties: false`."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


def _supported(language: object) -> object:
    # A string other than "python" is its own error code (docs/protocol.md "Errors"); any
    # other type is a plain schema violation, left to the Literal.
    if isinstance(language, str) and language != "python":
        raise UnsupportedLanguage(f"language {language!r} is not supported; use \"python\"")
    return language


def _whole(number: object) -> object:
    # JSON Schema counts 370.0 as an integer (it has no fractional part); so do we.
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return number


WholeNumber = Annotated[StrictInt, BeforeValidator(_whole)]
"""An integer, written `370` or `370.0`; never a string or a boolean."""

Language = Annotated[Literal["python"], BeforeValidator(_supported),
                     Field(json_schema_extra={"enum": ["python"]})]


ROOM_NAME_MAX = 200  # the web form's maxlength too (static/src/landing.js)


def _char_class(codes: list[int]) -> str:
    """A regex class body of these BMP code points as `\\uXXXX` ranges, read alike by Python's
    `re` and ECMA-262 (the dialect of JSON Schema's `pattern`)."""
    out: list[str] = []
    start = prev = codes[0]
    for code in [*codes[1:], -1]:
        if code != prev + 1:
            out.append(f"\\u{start:04X}" + (f"-\\u{prev:04X}" if prev > start else ""))
            start = code
        prev = code
    return "".join(out)


# Control and format characters (NUL, line breaks, bidi overrides, zero-width spaces) and line
# and paragraph separators of the BMP; whitespace besides. One pattern is both the check and
# what /openapi.json publishes, so the two cannot disagree.
_HIDDEN = [c for c in range(0x10000) if unicodedata.category(chr(c)) in {"Cc", "Cf", "Zl", "Zp"}]
_SPACE = [c for c in range(0x10000) if chr(c).isspace() and c not in set(_HIDDEN)]
NAME_PATTERN = (f"^[^{_char_class(_HIDDEN)}]*[^{_char_class(sorted(_HIDDEN + _SPACE))}]"
                f"[^{_char_class(_HIDDEN)}]*$")
_NAME = re.compile(NAME_PATTERN)


def printable_name(name: str) -> bool:
    """Some visible text and no control or format characters (NUL, line breaks, bidi
    overrides, ...): room names and display names are shown in titles and lists."""
    return _NAME.fullmatch(name) is not None


class CreateRoomRequest(RequestBody):
    name: Annotated[StrictStr, Field(max_length=ROOM_NAME_MAX,
                                     json_schema_extra={"pattern": NAME_PATTERN})] | None = None
    language: Language = "python"
    code: StrictStr = ""

    @field_validator("name")
    @classmethod
    def _printable(cls, name: str | None) -> str | None:
        if name is not None and not printable_name(name):
            raise ValueError("must contain visible text and no control or format characters"
                             " or line breaks")
        return name


AUTOCOMPLETE_DEADLINE_MS = 2000
MAX_DEADLINE_MS = 30_000


class AutocompleteRequest(RequestBody):
    code: StrictStr
    cursor_position: WholeNumber = Field(ge=0)
    language: Language
    deadline_ms: WholeNumber = Field(
        default=AUTOCOMPLETE_DEADLINE_MS, ge=0, le=MAX_DEADLINE_MS,
        description="how long to wait for Jedi (warming up or slow) before the AST answer")


class CreateLinkRequest(RequestBody):
    role: Literal["viewer"] = Field(description="the only role a link gives for now")


class DiagnosticsRequest(RequestBody):
    code: StrictStr
    language: Language


class SignatureRequest(RequestBody):
    code: StrictStr
    cursor_position: WholeNumber = Field(ge=0)
    language: Language


class HoverRequest(SignatureRequest):
    pass


class DefinitionRequest(SignatureRequest):
    pass


class ExecuteRequest(RequestBody):
    code: StrictStr
    language: Language = "python"
    stdin: StrictStr = ""


MAX_LIST_LIMIT = 500
MAX_LIST_OFFSET = 2**31 - 1  # far past any store's rooms; SQLite's OFFSET is 64-bit


class RoomListQuery(Wire):
    """`GET /admin/rooms`'s query. Parameters it does not name are ignored, as in every query
    string (docs/protocol.md "Unknown fields")."""

    limit: int = Field(default=50, ge=0, le=MAX_LIST_LIMIT)
    offset: int = Field(default=0, ge=0, le=MAX_LIST_OFFSET)


MAX_HISTORY_LIMIT = 500
MAX_VERSION = 2**53  # past any room's version; an exact number in JavaScript too
AUTHOR_MAX = 64  # a display name's limit (docs/protocol.md "WebSocket: …", `name`)


class HistoryQuery(Wire):
    """`GET /rooms/{roomId}/history`'s query (docs/protocol.md "History")."""

    before: int = Field(default=MAX_VERSION, ge=0, le=MAX_VERSION, description=(
        "only versions below this one (default: all)"))
    limit: int = Field(default=50, ge=0, le=MAX_HISTORY_LIMIT)


class RestoreRequest(RequestBody):
    version: WholeNumber = Field(ge=0)
    author: Annotated[StrictStr, Field(max_length=AUTHOR_MAX,
                                       json_schema_extra={"pattern": NAME_PATTERN})] | None = (
        Field(default=None, description=(
            "the display name the restore is authored by in the history; default"
            " \"restore\"")))

    @field_validator("author")
    @classmethod
    def _printable(cls, author: str | None) -> str | None:
        if author is not None and not printable_name(author):
            raise ValueError("must contain visible text and no control or format characters"
                             " or line breaks")
        return author


# -- responses -----------------------------------------------------------------------------


class Cursor(Wire):
    anchor: int
    head: int


class Participant(Wire):
    client_id: str
    name: str
    color: str
    cursor: Cursor | None
    role: Literal["editor", "viewer"]


class Connection(Participant):
    connected_at: str
    remote: str


class ExecutionResult(Wire):
    status: Literal["ok", "error", "tests_failed", "timeout", "killed", "stopped"]
    output: str
    stdout: str
    stderr: str
    exit_code: int | None
    duration_ms: int
    truncated: bool
    # Defaults: results stored before these fields existed read as "no reason given".
    reason: Literal[
        "exception", "exit", "tests_failed", "wall_limit", "cpu_limit", "memory_limit",
        "output_limit", "stopped", "sandbox_failure",
    ] | None = None
    limit: int | float | None = None


class RunResult(ExecutionResult):
    run_id: str
    version: int
    client_id: str
    name: str
    started_at: str | None = Field(description="when the run took its snapshot of the code"
                                   " (ISO UTC); null only for runs stored before it was kept")
    finished_at: str
    stopped_by: str | None = Field(description="the display name of whoever's stop ended the"
                                   " run, else null")


class Lock(Wire):
    run_id: str
    client_id: str
    name: str
    version: int
    since: str
    output: str


class Room(Wire):
    room_id: str
    name: str
    language: str
    code: str
    version: int
    created_at: str


class RoomState(Room):
    participants: list[Participant]
    lock: Lock | None
    last_run: RunResult | None
    updated_at: str


class Link(Wire):
    """A read-only link (docs/protocol.md "Read-only links")."""

    link_id: str
    role: Literal["viewer"]
    url: str = Field(description="the viewer's page, `/v/{linkId}`; it holds no room id")
    created_at: str


class LinkList(Wire):
    links: list[Link]


class SharedRoom(Wire):
    """`GET /links/{linkId}`: the room as a viewer sees it, without its id."""

    role: Literal["viewer"]
    name: str
    language: str
    code: str
    version: int
    participants: list[Participant]
    lock: Lock | None
    last_run: RunResult | None
    created_at: str
    updated_at: str


class Suggestion(Wire):
    label: str
    kind: str
    detail: str | None = None
    source: Literal["jedi", "ast"]


class Symbols(Wire):
    globals: list[str]
    functions: list[str]
    classes: list[str]
    imports: list[str]
    params: list[str]
    locals: list[str]


class AutocompleteResponse(BaseModel):
    # populate_by_name: read from `Completion.from_`; the wire name is the alias `from`.
    model_config = ConfigDict(populate_by_name=True)

    from_: int = Field(alias="from")
    suggestions: list[Suggestion]
    symbols: Symbols
    incomplete: bool = Field(description="not Jedi's final answer but the AST fallback; asking"
                                         " again later may bring more (LSP's isIncomplete)")


class DiagnosticItem(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: int = Field(alias="from")
    to: int
    severity: Literal["error", "warning", "info"]
    message: str
    source: Literal["syntax", "pyflakes"]


class DiagnosticsResponse(BaseModel):
    items: list[DiagnosticItem]


class SignatureParameter(Wire):
    label: str
    documentation: str | None


class SignatureItem(Wire):
    label: str
    parameters: list[SignatureParameter]
    active_parameter: int | None
    documentation: str | None


class SignatureResponse(Wire):
    signatures: list[SignatureItem]


class HoverResponse(BaseModel):
    """`{"from", "to", "contents"}`, or `{"contents": null}` off a name."""

    model_config = ConfigDict(populate_by_name=True)

    from_: int | None = Field(default=None, alias="from")
    to: int | None = None
    contents: str | None


class DefinitionInDocument(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: int = Field(alias="from")
    to: int


class DefinitionInModule(BaseModel):
    module: str
    name: str


class DefinitionResponse(RootModel[DefinitionInDocument | DefinitionInModule | None]):
    """Where a name is defined: in the document, in a library module, or unknown (null)."""


def dump_diagnostics(items: list[completion.Diagnostic]) -> list[dict[str, Any]]:
    """docs/protocol.md `Diagnostic`s (the REST answer's and the `diagnostics` frame's)."""
    return [DiagnosticItem.model_validate(item, from_attributes=True)
            .model_dump(mode="json", by_alias=True) for item in items]


def dump_signatures(items: list[completion.Signature]) -> list[dict[str, Any]]:
    return [SignatureItem.model_validate(item, from_attributes=True)
            .model_dump(mode="json", by_alias=True) for item in items]


def dump_hover(hover: completion.Hover | None) -> dict[str, Any]:
    if hover is None:
        return {"contents": None}
    return HoverResponse.model_validate(hover, from_attributes=True).model_dump(
        mode="json", by_alias=True)


def dump_definition(place: completion.Definition | None) -> dict[str, Any] | None:
    if place is None:
        return None
    if place.module is not None and place.name is not None:
        return DefinitionInModule(module=place.module, name=place.name).model_dump(mode="json")
    if place.from_ is None or place.to is None:
        return None
    return DefinitionInDocument.model_validate(place, from_attributes=True).model_dump(
        mode="json", by_alias=True)


def dump_execution_result(result: execution.ExecutionResult) -> dict[str, Any]:
    """The wire form of a run's ending (docs/protocol.md "REST": `ExecutionResult`)."""
    wire = ExecutionResult.model_validate(result, from_attributes=True)
    return wire.model_dump(mode="json", by_alias=True)


def dump_completion(result: completion.Completion) -> dict[str, Any]:
    """The wire form of a completion (docs/protocol.md "REST": `{"from", "suggestions",
    "symbols"}`). `exclude_none`: a suggestion without `detail` has no such key, never null;
    nothing else in this shape is nullable."""
    wire = AutocompleteResponse.model_validate(result, from_attributes=True)
    return wire.model_dump(mode="json", by_alias=True, exclude_none=True)


class AdminRoom(Wire):
    room_id: str
    name: str
    language: str
    version: int
    participant_count: int
    code_length: int
    locked: bool
    created_at: str
    updated_at: str


class AdminRoomList(Wire):
    rooms: list[AdminRoom]
    total: int


class AdminRoomDetail(AdminRoom):
    code: str
    connections: list[Connection]
    recent_executions: list[RunResult]


class Health(Wire):
    status: Literal["ok"]
    rooms_loaded: int
    connections: int
    runs_running: int
    runs_queued: int
    completion: Literal["ready", "warming"]
    process: str | None = Field(
        default=None, description="this process's id in a deployment of several, else null")


class HistoryEntry(Wire):
    version: int = Field(description="the room's version after this update")
    author: str | None = Field(description="the pusher's display name then; null if unknown")
    client_id: str | None
    time: str | None = Field(description="when the server accepted it (ISO 8601 UTC)")
    inserted: int = Field(description="UTF-16 units written")
    deleted: int = Field(description="UTF-16 units removed")
    updates: int = Field(description=(
        "updates this entry stands for: 1, or more for a keyframe older than oldestVersion"))


class HistoryPage(Wire):
    version: int
    entries: list[HistoryEntry]
    oldest_version: int = Field(description=(
        "every version from this one to the room's can be read; older ones only at entries"))


class VersionResponse(Wire):
    version: int
    code: str
    time: str | None


class BlameLine(Wire):
    line: int = Field(description="1-based")
    author: str | None = Field(description="null: unchanged since `version`, the room's"
                                           " creation (0) or the oldest history kept")
    client_id: str | None
    version: int
    time: str | None


class Blame(Wire):
    version: int
    lines: list[BlameLine]


class RestoreResponse(Wire):
    version: int = Field(description="the room's version after the restore")
    restored_version: int
    changed: bool = Field(description="false: the document already was that version's;"
                                      " nothing was added to the history")


class Readiness(Wire):
    status: Literal["ready", "not_ready"] = Field(
        description="ready once completions are warm (Jedi answers); 503 not_ready before")


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
