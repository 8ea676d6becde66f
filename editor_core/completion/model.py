"""What the engine answers, and its wire form (docs/protocol.md "REST", `/autocomplete`).

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

    def to_wire(self) -> dict[str, object]:
        wire: dict[str, object] = {"label": self.label, "kind": self.kind}
        # The contract's `"detail"?: str`: absent, never null, when there is none.
        if self.detail is not None:
            wire["detail"] = self.detail
        wire["source"] = self.source
        return wire


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

    def to_wire(self) -> dict[str, list[str]]:
        return {
            "globals": list(self.globals),
            "functions": list(self.functions),
            "classes": list(self.classes),
            "imports": list(self.imports),
            "params": list(self.params),
            "locals": list(self.locals),
        }

    @classmethod
    def from_wire(cls, wire: dict[str, list[str]]) -> Symbols:
        return cls(
            globals=list(wire["globals"]),
            functions=list(wire["functions"]),
            classes=list(wire["classes"]),
            imports=list(wire["imports"]),
            params=list(wire["params"]),
            locals=list(wire["locals"]),
        )


@dataclass(frozen=True)
class Completion:
    """The answer to one request: `from_` is where the word being completed starts (UTF-16)."""

    from_: int
    suggestions: list[Suggestion]
    symbols: Symbols

    def to_wire(self) -> dict[str, object]:
        return {
            "from": self.from_,
            "suggestions": [s.to_wire() for s in self.suggestions],
            "symbols": self.symbols.to_wire(),
        }
