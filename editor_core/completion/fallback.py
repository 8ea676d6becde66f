"""The answer given without Jedi: the AST symbols filtered by the typed word, plus builtins
and keywords (`source: "ast"`). Used when Jedi misses its deadline."""

from __future__ import annotations

import re
from dataclasses import dataclass

from editor_core.completion.kinds import BUILTINS, KEYWORDS
from editor_core.completion.model import Completion, Suggestion, Symbols
from editor_core.completion.symbols import symbols_at
from editor_core.positions import utf16_length, utf16_to_index

_WORD = re.compile(r"\w*\Z")


@dataclass(frozen=True)
class Cursor:
    """What is being typed at the cursor."""

    from_: int  # UTF-16 offset where the word starts
    prefix: str  # the word's part before the cursor
    attribute: bool  # the word follows a `.`: only Jedi knows the attributes


def cursor_at(code: str, position: int, index: int) -> Cursor:
    """The word before UTF-16 `position` (code-point `index`) of `code`."""
    line_start = code.rfind("\n", 0, index) + 1
    match = _WORD.search(code, line_start, index)
    prefix = match.group() if match else ""
    before = code[line_start : index - len(prefix)].rstrip()
    return Cursor(position - utf16_length(prefix), prefix, before.endswith("."))


def ast_suggestions(symbols: Symbols, cursor: Cursor) -> list[Suggestion]:
    """Names from `symbols`, builtins and keywords that start with the typed word (ignoring
    case, as Jedi does); nearest scope first, each label once."""
    if cursor.attribute:
        return []
    wanted = cursor.prefix.lower()
    groups: list[tuple[str, list[str]]] = [
        ("param", symbols.params),
        ("variable", symbols.locals),
        ("function", symbols.functions),
        ("class", symbols.classes),
        ("module", symbols.imports),
        ("variable", symbols.globals),
    ]
    seen: set[str] = set()
    out: list[Suggestion] = []

    def offer(label: str, kind: str) -> None:
        if label not in seen and label.lower().startswith(wanted):
            seen.add(label)
            out.append(Suggestion(label, kind, None, "ast"))

    for kind, names in groups:
        for name in names:
            offer(name, kind)
    for name, kind in BUILTINS.items():
        offer(name, kind)
    for word in KEYWORDS:
        offer(word, "keyword")
    return out


def ast_completion(code: str, position: int) -> Completion:
    """The whole fallback answer, computed from scratch (`ValueError` for a bad position)."""
    index = utf16_to_index(code, position)
    symbols = symbols_at(code, position)
    cursor = cursor_at(code, position, index)
    return Completion(cursor.from_, ast_suggestions(symbols, cursor), symbols, incomplete=True)


def bare_completion(code: str, position: int) -> Completion:
    """The fallback without a parse: builtins and keywords only, no symbols (the last resort
    when no worker can answer and the document is too big to parse in the server)."""
    index = utf16_to_index(code, position)
    cursor = cursor_at(code, position, index)
    empty = Symbols.empty()
    return Completion(cursor.from_, ast_suggestions(empty, cursor), empty, incomplete=True)
