"""Jedi's completion types → the `kind` of a wire `Suggestion` (docs/protocol.md "REST")."""

from __future__ import annotations

import builtins
import keyword

# Jedi's `Completion.type` values are module, class, instance, function, param, path,
# keyword, property and statement. The wire says "variable" where Jedi says "instance"
# (a name bound to a value of a known type); the rest pass through unchanged.
_JEDI_TO_WIRE = {
    "module": "module",
    "class": "class",
    "instance": "variable",
    "function": "function",
    "param": "param",
    "path": "path",
    "keyword": "keyword",
    "property": "property",
    "statement": "statement",
}


def wire_kind(jedi_type: str) -> str:
    """The wire kind for a Jedi completion type; unknown future types pass through."""
    return _JEDI_TO_WIRE.get(jedi_type, jedi_type)


# Keywords offered by the AST fallback; soft keywords too (`match`, `case`, `type`), but not
# `_`, which is an ordinary name everywhere but a `case` pattern.
KEYWORDS: tuple[str, ...] = tuple(sorted(set(keyword.kwlist) | (set(keyword.softkwlist) - {"_"})))


def _builtin_kind(name: str) -> str:
    value = getattr(builtins, name)
    if isinstance(value, type):
        return "class"
    if callable(value):
        return "function"
    return "variable"


# Builtins offered by the AST fallback, with their kinds; private names are left out.
BUILTINS: dict[str, str] = {
    name: _builtin_kind(name) for name in dir(builtins) if not name.startswith("_")
}
