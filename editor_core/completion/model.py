"""What the engine answers: plain values. Their wire form (docs/protocol.md "REST": `Suggestion`,
`Symbols`, the autocomplete answer) is defined once, by the server's wire models
(server/models.py).

Positions in these values are UTF-16 offsets, as on the wire (`editor_core.positions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Source = Literal["jedi", "ast"]


@dataclass(frozen=True)
class Suggestion:
    """One completion item; the client replaces `from..cursor` with `label`."""

    label: str
    kind: str
    detail: str | None
    source: Source


@dataclass(frozen=True)
class Symbols:
    """Names visible at the cursor, each list sorted and de-duplicated."""

    globals: list[str]
    functions: list[str]
    classes: list[str]
    imports: list[str]
    params: list[str]
    locals: list[str]

    @classmethod
    def empty(cls) -> Symbols:
        return cls([], [], [], [], [], [])

    # The AST worker's pipe (worker.py `symbols` answer → lane.py) carries Symbols as JSON.
    # An internal encoding between our own processes, not part of the contract: it may change
    # with the worker, and does not follow the wire's naming.
    def to_ipc(self) -> dict[str, list[str]]:
        return {
            "globals": list(self.globals),
            "functions": list(self.functions),
            "classes": list(self.classes),
            "imports": list(self.imports),
            "params": list(self.params),
            "locals": list(self.locals),
        }

    @classmethod
    def from_ipc(cls, message: dict[str, list[str]]) -> Symbols:
        return cls(
            globals=list(message["globals"]),
            functions=list(message["functions"]),
            classes=list(message["classes"]),
            imports=list(message["imports"]),
            params=list(message["params"]),
            locals=list(message["locals"]),
        )


@dataclass(frozen=True)
class Completion:
    """The answer to one request: `from_` is where the word being completed starts (UTF-16).

    `incomplete`: not Jedi's final answer but the AST fallback (Jedi still warming up, late,
    failed, or the document too long for it); asking again later may bring more, as LSP's
    `isIncomplete` says (docs/protocol.md "REST")."""

    from_: int
    suggestions: list[Suggestion]
    symbols: Symbols
    incomplete: bool = False


# -- language intelligence (docs/protocol.md "Language") --

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Diagnostic:
    """One finding about the document: `from_..to` is the text it is about (UTF-16)."""

    from_: int
    to: int
    severity: Severity
    message: str
    source: Literal["syntax", "pyflakes"]


@dataclass(frozen=True)
class Parameter:
    label: str
    documentation: str | None


@dataclass(frozen=True)
class Signature:
    """A callable around the cursor: `active_parameter` is the argument being typed."""

    label: str
    parameters: list[Parameter]
    active_parameter: int | None
    documentation: str | None


@dataclass(frozen=True)
class Hover:
    """What the name at `from_..to` is: its type or signature and docstring, as Markdown."""

    from_: int
    to: int
    contents: str


@dataclass(frozen=True)
class Definition:
    """Where a name is defined: `from_..to` in the document, or `name` in library `module`."""

    from_: int | None = None
    to: int | None = None
    module: str | None = None
    name: str | None = None
