"""editor_core.positions: the one place units are converted (UTF-16 ↔ str ↔ Jedi)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from editor_core.positions import (
    LineIndex,
    index_to_utf16,
    normalize_newlines,
    snap_utf16,
    utf16_length,
    utf16_to_index,
    utf16_to_line_col,
)

TEXT = "é = '😀'\r\nx = 1\n😀😀y"


def test_lengths_count_utf16_units() -> None:
    assert utf16_length("") == 0
    assert utf16_length("abc") == 3
    assert utf16_length("é") == 1  # one BMP code point
    assert utf16_length("😀") == 2  # astral: a surrogate pair
    assert utf16_length(TEXT) == len(TEXT.encode("utf-16-le")) // 2


def test_offsets_around_an_emoji() -> None:
    text = "a😀b"
    assert [utf16_to_index(text, o) for o in (0, 1, 3, 4)] == [0, 1, 2, 3]
    assert [index_to_utf16(text, i) for i in range(4)] == [0, 1, 3, 4]
    with pytest.raises(ValueError, match="surrogate"):
        utf16_to_index(text, 2)
    with pytest.raises(ValueError, match="past the end"):
        utf16_to_index(text, 5)
    with pytest.raises(ValueError, match="negative"):
        utf16_to_index(text, -1)


def test_jedi_lines_and_columns_with_emoji_and_crlf() -> None:
    # line 3 starts after "é = '😀'\r\n" (10 units) and "x = 1\n" (6 units)
    assert utf16_to_line_col(TEXT, 0) == (1, 0)
    assert utf16_to_line_col(TEXT, 16) == (3, 0)
    assert utf16_to_line_col(TEXT, 20) == (3, 2)  # after two emoji: two code points
    index = LineIndex(TEXT)
    assert index.line_col_to_utf16(3, 2) == 20
    assert index.line_col_to_utf16(1, 6) == 7  # "é = '😀" is 7 units
    assert index.line_of_index(TEXT.index("x")) == 2


def test_newlines_are_normalized() -> None:
    assert normalize_newlines("a\r\nb\rc\n") == "a\nb\nc\n"


@given(st.text())
def test_round_trip(text: str) -> None:
    for index in range(len(text) + 1):
        assert utf16_to_index(text, index_to_utf16(text, index)) == index
    assert utf16_length(text) == index_to_utf16(text, len(text))


def test_snap_moves_back_to_a_boundary() -> None:
    text = "a😀b"
    assert [snap_utf16(text, o) for o in range(7)] == [0, 1, 1, 3, 4, 4, 4]
    assert snap_utf16("abc", 9) == 3


@given(st.text(), st.integers(min_value=0, max_value=50))
def test_snap_is_the_largest_boundary_at_or_before(text: str, offset: int) -> None:
    snapped = snap_utf16(text, offset)
    assert snapped <= offset
    assert index_to_utf16(text, utf16_to_index(text, snapped)) == snapped  # a boundary
    boundaries = [index_to_utf16(text, i) for i in range(len(text) + 1)]
    assert snapped == max(b for b in boundaries if b <= offset)
