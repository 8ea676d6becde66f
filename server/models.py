"""Wire models of the REST API (docs/protocol.md "REST"), camelCase on the wire. Requests are
validated with them; responses are described by them in `/openapi.json`, and the responses
built from a core value (`dump_execution_result`, `dump_completion`) are serialized by them,
so each of those shapes has this one definition."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator
from pydantic.alias_generators import to_camel

if TYPE_CHECKING:
    from editor_core.completion import model as completion
    from editor_core.execution import result as execution


class Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# -- requests ------------------------------------------------------------------------------


ROOM_NAME_MAX = 200  # the web form's maxlength too (static/src/landing.js)


def printable_name(name: str) -> bool:
    """Some visible text and no control characters (NUL, line breaks, ...): room names and
    display names are shown in titles and lists."""
    return bool(name.strip()) and not any(
        unicodedata.category(ch).startswith("C") for ch in name)


class CreateRoomRequest(Wire):
    name: StrictStr | None = Field(default=None, max_length=ROOM_NAME_MAX)
    language: StrictStr = "python"
    code: StrictStr = ""

    @field_validator("name")
    @classmethod
    def _printable(cls, name: str | None) -> str | None:
        if name is not None and not printable_name(name):
            raise ValueError("must contain visible text and no control characters or line"
                             " breaks")
        return name


class AutocompleteRequest(Wire):
    code: StrictStr
    cursor_position: StrictInt = Field(ge=0)
    language: StrictStr


class CreateLinkRequest(Wire):
    role: Literal["viewer"] = Field(description="the only role a link gives for now")


class ExecuteRequest(Wire):
    code: StrictStr
    language: StrictStr = "python"
    stdin: StrictStr = ""


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


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
