"""Units, stated once and converted here only (docs/protocol.md "Conventions").

- On the wire every position is a **UTF-16 code-unit offset**, as CodeMirror 6 and LSP count.
- Inside Python a `str` index counts **code points**.
- Jedi takes a **1-based line** and a **0-based column in code points**.

Only characters outside the Basic Multilingual Plane (e.g. emoji) differ: one code point, two
UTF-16 units. Every conversion between the three lives here.
"""

from __future__ import annotations

from bisect import bisect_right


def _is_astral(ch: str) -> bool:
    return ord(ch) > 0xFFFF


def utf16_length(text: str) -> int:
    """Length of `text` in UTF-16 code units."""
    if text.isascii():
        return len(text)
    # The codec runs in C; surrogatepass keeps a lone surrogate at one unit instead of failing.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def index_to_utf16(text: str, index: int) -> int:
    """Code-point index into `text` → UTF-16 offset."""
    return utf16_length(text[:index])


def utf16_to_index(text: str, offset: int) -> int:
    """UTF-16 offset → code-point index into `text`.

    Raises `ValueError` when `offset` is outside `0..utf16_length(text)` or falls between
    the two halves of a surrogate pair.
    """
    if offset < 0:
        raise ValueError(f"offset {offset} is negative")
    if text.isascii():
        if offset > len(text):
            raise ValueError(f"offset {offset} is past the end ({len(text)})")
        return offset
    units = 0
    for index, ch in enumerate(text):
        if units == offset:
            return index
        units += 2 if _is_astral(ch) else 1
        if units > offset:
            raise ValueError(f"offset {offset} splits a surrogate pair")
    if units == offset:
        return len(text)
    raise ValueError(f"offset {offset} is past the end ({units})")


def snap_utf16(text: str, offset: int) -> int:
    """The largest character boundary at or before `offset` (a non-negative UTF-16 offset):
    the end for anything past it, a pair's start for its middle. A REST `cursorPosition` it
    would move is refused (docs/protocol.md "REST")."""
    if text.isascii():
        return min(offset, len(text))
    units = 0
    for ch in text:
        step = 2 if _is_astral(ch) else 1
        if units + step > offset:
            return units
        units += step
    return units


def utf16_to_line_col(text: str, offset: int) -> tuple[int, int]:
    """UTF-16 offset → Jedi's (1-based line, 0-based code-point column)."""
    index = utf16_to_index(text, offset)
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start


class LineIndex:
    """Repeated (line, column) → UTF-16 conversions over one text, in O(log n) each."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                self._starts.append(i + 1)

    def line_col_to_utf16(self, line: int, column: int) -> int:
        """Jedi's (1-based line, 0-based code-point column) → UTF-16 offset."""
        start = self._starts[line - 1]
        return index_to_utf16(self._text, start + column)

    @property
    def line_count(self) -> int:
        return len(self._starts)

    def line_text(self, line: int) -> str:
        """The text of 1-based `line`, without its line break."""
        start = self._starts[line - 1]
        end = self._starts[line] - 1 if line < len(self._starts) else len(self._text)
        return self._text[start:end]

    def line_of_index(self, index: int) -> int:
        """1-based line that holds code-point `index`."""
        return bisect_right(self._starts, index)


def normalize_newlines(text: str) -> str:
    """`\\r\\n` and lone `\\r` → `\\n` (room documents only; docs/protocol.md "Conventions")."""
    return text.replace("\r\n", "\n").replace("\r", "\n")
