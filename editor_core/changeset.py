"""`ChangeSet`: CodeMirror 6's change sets in Python, a port of change.ts of @codemirror/state.

Lengths and positions are UTF-16 code units; sections are change.ts's flat `[len, ins, ...]`
(docs/architecture.md "ChangeSet and its fast paths"; the JSON form: docs/protocol.md "Editing").
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Sequence

from editor_core.errors import InvalidUpdate
from editor_core.one_range import (
    OneRange,
    map_one_range,
    one_range_inserted,
    one_range_of,
    one_range_sections,
)

_KEEP = -1
_DONE = -2

# Lone surrogates can come in through JSON escapes ("\ud83d"); a room document never holds one.
_SURROGATE = re.compile("[\ud800-\udfff]")


# PEP 393: CPython stores a str with 1, 2 or 4 bytes per code point, and only the 4-byte kind
# can hold a character outside the BMP (two UTF-16 units). `sys.getsizeof` tells the kind in
# O(1): a compact 4-byte str takes exactly `_UCS4_OVERHEAD + 4 * len` bytes, any other less.
_UCS4_OVERHEAD = sys.getsizeof("\U00010000") - 4 if sys.implementation.name == "cpython" else None


def _bmp_only(text: str) -> bool:
    """True when `text` surely has no astral character, so UTF-16 offsets are str indexes.

    O(1) (no scan of the text); False means "may have one" and takes the UTF-16 path.
    """
    if text.isascii():
        return True
    return _UCS4_OVERHEAD is not None and sys.getsizeof(text) < _UCS4_OVERHEAD + 4 * len(text)


def _units(text: str) -> int:
    """UTF-16 length of `text` (index fast path; otherwise through the codec, in C)."""
    if _bmp_only(text):
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) >> 1


def _slice_units(text: str, start: int, end: int) -> str:
    """`text[start:end]` counted in UTF-16 units; refuses to cut a surrogate pair."""
    if _bmp_only(text):
        return text[start:end]
    data = text.encode("utf-16-le")
    try:
        return data[2 * start : 2 * end].decode("utf-16-le")
    except UnicodeDecodeError:
        raise InvalidUpdate("a change splits a surrogate pair") from None


def _is_low_surrogate_at(data: memoryview, unit: int) -> bool:
    """Whether the UTF-16-LE unit at `unit` is the second half of a pair (0xDC00-0xDFFF)."""
    return 0 < unit < len(data) >> 1 and 0xDC <= data[2 * unit + 1] <= 0xDF


def _add_section(sections: list[int], length: int, ins: int, force_join: bool = False) -> None:
    # change.ts `addSection`: merges with the previous section where CodeMirror does.
    if length == 0 and ins <= 0:
        return
    last = len(sections) - 2
    if last >= 0 and ins <= 0 and ins == sections[last + 1]:
        sections[last] += length
    elif last >= 0 and length == 0 and sections[last] == 0:
        sections[last + 1] += ins
    elif force_join:
        sections[last] += length
        sections[last + 1] += ins
    else:
        sections.append(length)
        sections.append(ins)


def _add_insert(values: list[str], sections: list[int], value: str) -> None:
    # change.ts `addInsert`.
    if not value:
        return
    index = (len(sections) - 2) >> 1
    if index < len(values):
        values[-1] += value
    else:
        while len(values) < index:
            values.append("")
        values.append(value)


class _SectionIter:
    """change.ts `SectionIter`: walks sections, able to consume part of one."""

    __slots__ = ("i", "ins", "inserted", "len", "off", "sections")

    def __init__(self, changes: ChangeDesc) -> None:
        self.sections = changes._sections
        self.inserted = changes._inserted if isinstance(changes, ChangeSet) else []
        self.i = 0
        self.len = 0
        self.ins = _DONE
        self.off = 0
        self.next()

    def next(self) -> None:
        if self.i < len(self.sections):
            self.len = self.sections[self.i]
            self.ins = self.sections[self.i + 1]
            self.i += 2
        else:
            self.len = 0
            self.ins = _DONE
        self.off = 0

    @property
    def done(self) -> bool:
        return self.ins == _DONE

    @property
    def len2(self) -> int:
        return self.len if self.ins < 0 else self.ins

    @property
    def text(self) -> str:
        index = (self.i - 2) >> 1
        return "" if index >= len(self.inserted) else self.inserted[index]

    def text_bit(self, length: int) -> str:
        index = (self.i - 2) >> 1
        if index >= len(self.inserted) and not length:
            return ""
        return _slice_units(self.inserted[index], self.off, self.off + length)

    def forward(self, length: int) -> None:
        if length == self.len:
            self.next()
        else:
            self.len -= length
            self.off += length

    def forward2(self, length: int) -> None:
        if self.ins == _KEEP:
            self.forward(length)
        elif length == self.ins:
            self.next()
        else:
            self.ins -= length
            self.off += length


def _mismatch() -> InvalidUpdate:
    return InvalidUpdate("mismatched change set lengths")


Sections = list[int]


def _map_set(
    set_a: ChangeDesc, set_b: ChangeDesc, before: bool, mk_set: bool
) -> tuple[Sections, list[str] | None]:
    """change.ts `mapSet`: a copy of `set_a` that applies after `set_b` (same start doc);
    with its inserted texts when `mk_set`."""
    sections: list[int] = []
    insert: list[str] | None = [] if mk_set else None
    a = _SectionIter(set_a)
    b = _SectionIter(set_b)
    # `inserted` is the section index of A whose text is already placed, for changes of A that
    # are processed piece by piece.
    inserted = -1
    while True:
        if (a.done and b.len) or (b.done and a.len):
            raise _mismatch()
        if a.ins == _KEEP and b.ins == _KEEP:
            # A range skipped by both.
            length = min(a.len, b.len)
            _add_section(sections, length, _KEEP)
            a.forward(length)
            b.forward(length)
        elif b.ins >= 0 and (
            a.ins < 0
            or inserted == a.i
            or (a.off == 0 and (b.len < a.len or (b.len == a.len and not before)))
        ):
            # A change of B comes first (by start, then length, then `before`): skip it, and
            # place the changes of A that it covers.
            length = b.len
            _add_section(sections, b.ins, _KEEP)
            while length:
                piece = min(a.len, length)
                if a.ins >= 0 and inserted < a.i and a.len <= piece:
                    _add_section(sections, 0, a.ins)
                    if insert is not None:
                        _add_insert(insert, sections, a.text)
                    inserted = a.i
                a.forward(piece)
                length -= piece
            b.next()
        elif a.ins >= 0:
            # The part of a change of A up to the next non-deletion change of B.
            length = 0
            left = a.len
            while left:
                if b.ins == _KEEP:
                    piece = min(left, b.len)
                    length += piece
                    left -= piece
                    b.forward(piece)
                elif b.ins == 0 and b.len < left:
                    left -= b.len
                    b.next()
                else:
                    break
            _add_section(sections, length, a.ins if inserted < a.i else 0)
            if insert is not None and inserted < a.i:
                _add_insert(insert, sections, a.text)
            inserted = a.i
            a.forward(a.len - left)
        elif a.done and b.done:
            return sections, insert
        else:
            raise _mismatch()


def _map_single(set_a: ChangeDesc, set_b: ChangeDesc, before: bool) -> Sections | None:
    """The sections of `_map_set(set_a, set_b, before)` in O(1) by `map_one_range`
    (one_range.py), or None where that does not apply."""
    range_a = set_a.as_one_range()
    range_b = set_b.as_one_range() if range_a is not None else None
    if range_a is None or range_b is None:
        return None
    mapped = map_one_range(range_a, range_b, before)
    return None if mapped is None else one_range_sections(mapped)


def _compose_sets(
    set_a: ChangeDesc, set_b: ChangeDesc, mk_set: bool
) -> tuple[Sections, list[str] | None]:
    """change.ts `composeSets`: `set_a` then `set_b` as one change; with its inserted texts
    when `mk_set`."""
    sections: list[int] = []
    insert: list[str] | None = [] if mk_set else None
    a = _SectionIter(set_a)
    b = _SectionIter(set_b)
    is_open = False
    while True:
        if a.done and b.done:
            return sections, insert
        if a.ins == 0:  # deletion in A
            _add_section(sections, a.len, 0, is_open)
            a.next()
        elif b.len == 0 and not b.done:  # insertion in B
            _add_section(sections, 0, b.ins, is_open)
            if insert is not None:
                _add_insert(insert, sections, b.text)
            b.next()
        elif a.done or b.done:
            raise _mismatch()
        else:
            length = min(a.len2, b.len)
            section_count = len(sections)
            if a.ins == _KEEP:
                ins_b = _KEEP if b.ins == _KEEP else 0 if b.off else b.ins
                _add_section(sections, length, ins_b, is_open)
                if insert is not None and ins_b:
                    _add_insert(insert, sections, b.text)
            elif b.ins == _KEEP:
                _add_section(sections, 0 if a.off else a.len, length, is_open)
                if insert is not None:
                    _add_insert(insert, sections, a.text_bit(length))
            else:
                _add_section(sections, 0 if a.off else a.len, 0 if b.off else b.ins, is_open)
                if insert is not None and not b.off:
                    _add_insert(insert, sections, b.text)
            is_open = (a.ins > length or (b.ins >= 0 and b.len > length)) and (
                is_open or len(sections) > section_count
            )
            a.forward2(length)
            b.forward(length)


def _parse_length(value: object) -> int:
    # `bool` is an `int` in Python but never a length (docs/protocol.md "Editing").
    if type(value) is not int or value < 0:
        raise InvalidUpdate(f"a length must be a non-negative integer, not {value!r}")
    return value


class ChangeDesc:
    """The shape of a change without its inserted text (CodeMirror's `ChangeDesc`).

    Enough to map positions and other changes over it; `rebase_updates` composes these,
    as collab does, because the texts of its intermediate changes are never used.
    """

    __slots__ = ("_length", "_new_length", "_sections")

    def __init__(self, sections: list[int]) -> None:
        """Internal: CodeMirror's flat sections."""
        self._sections = sections
        self._length = sum(sections[0::2])
        self._new_length = sum(
            length if ins < 0 else ins
            for length, ins in zip(sections[0::2], sections[1::2], strict=True)
        )

    @property
    def length(self) -> int:
        """UTF-16 length of the document this change applies to."""
        return self._length

    @property
    def new_length(self) -> int:
        """UTF-16 length of the document it produces."""
        return self._new_length

    @property
    def empty(self) -> bool:
        """True when nothing changes (CodeMirror's `empty`, with its exact definition)."""
        s = self._sections
        return not s or (len(s) == 2 and s[1] < 0)

    def compose_desc(self, other: ChangeDesc) -> ChangeDesc:
        """`composeDesc`: this change, then `other`, as one description.

        Law: it has the sections of `a.compose(b)` (the same change, without texts).
        """
        if self._new_length != other._length:
            raise _mismatch()
        if self.empty:
            return other
        if other.empty:
            return self
        return ChangeDesc(_compose_sets(self, other, mk_set=False)[0])

    def map_desc(self, other: ChangeDesc, before: bool = False) -> ChangeDesc:
        """`mapDesc`: this description moved over `other` (see `ChangeSet.map`)."""
        if self._length != other._length:
            raise _mismatch()
        if other.empty:
            return self
        sections = _map_single(self, other, before)
        if sections is not None:
            desc = ChangeDesc.__new__(ChangeDesc)  # lengths follow from the inputs'
            desc._sections = sections
            desc._length = other._new_length
            desc._new_length = other._new_length - self._length + self._new_length
            return desc
        return ChangeDesc(_map_set(self, other, before, mk_set=False)[0])

    def as_one_range(self) -> OneRange | None:
        """This change as a `OneRange` (one_range.py) when it replaces one range, else None."""
        return one_range_of(self._sections, self._length, ())

    def map_pos(self, pos: int, assoc: int = -1) -> int:
        """Map a position of the old document into the new one (`mapPos`, simple mode).

        `assoc < 0` keeps a position at an insertion before it, `assoc > 0` after it.
        Law: an insertion at `pos`, mapped over this change, lands at `map_pos(pos, 1)`; and
        at `map_pos(pos, -1)` when mapped with `before=True`, unless `pos` is strictly inside
        a replaced range.
        """
        if not 0 <= pos <= self._length:
            raise ValueError(f"position {pos} is outside 0..{self._length}")
        sections = self._sections
        pos_a = 0
        pos_b = 0
        for i in range(0, len(sections), 2):
            length, ins = sections[i], sections[i + 1]
            end_a = pos_a + length
            if ins < 0:
                if end_a > pos:
                    return pos_b + (pos - pos_a)
                pos_b += length
            else:
                if end_a > pos or (end_a == pos and assoc < 0 and not length):
                    return pos_b if pos == pos_a or assoc < 0 else pos_b + ins
                pos_b += ins
            pos_a = end_a
        return pos_b

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, ChangeDesc)
        return self._sections == other._sections

    def __hash__(self) -> int:
        return hash(tuple(self._sections))

    def __repr__(self) -> str:
        return f"ChangeDesc({self._sections!r})"


class ChangeSet(ChangeDesc):
    """An edit of a document of `length` UTF-16 units into one of `new_length` units.

    Immutable. Build one with `from_json`, `of`, `replace` or `empty_of`; equality is equality
    of the JSON form.
    """

    __slots__ = ("_inserted",)

    def __init__(self, sections: list[int], inserted: list[str]) -> None:
        """Internal: CodeMirror's flat sections and per-section inserted texts."""
        super().__init__(sections)
        self._inserted = inserted

    @property
    def desc(self) -> ChangeDesc:
        """The change without its texts."""
        return ChangeDesc(self._sections)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def empty_of(cls, length: int) -> ChangeSet:
        """The change that keeps all of a document of `length` units (`ChangeSet.empty`)."""
        return cls([length, _KEEP] if length else [], [])

    @classmethod
    def of(cls, length: int, edits: Sequence[tuple[int, int, str]]) -> ChangeSet:
        """Replace each range `start..end` of a `length`-unit document with its text.

        The ranges are in order and do not overlap (they may touch); the result is what
        CodeMirror's `ChangeSet.of(specs, length)` gives for the same ranges.
        """
        sections: list[int] = []
        inserted: list[str] = []
        pos = 0
        for start, end, text in edits:
            if not pos <= start <= end <= length:
                raise InvalidUpdate(f"range {start}..{end} is out of order or outside 0..{length}")
            if "\r" in text:
                raise InvalidUpdate("inserted text holds \\r")
            if not text.isascii() and _SURROGATE.search(text):
                raise InvalidUpdate("inserted text holds a lone surrogate")
            ins = _units(text)
            if start == end and not ins:
                continue
            if start > pos:
                _add_section(sections, start - pos, _KEEP)
            _add_section(sections, end - start, ins)
            _add_insert(inserted, sections, text)
            pos = end
        if length > pos:
            _add_section(sections, length - pos, _KEEP)
        return cls(sections, inserted)

    @classmethod
    def replace(cls, length: int, start: int, end: int, text: str) -> ChangeSet:
        """`ChangeSet.of(length, [(start, end, text)])`."""
        return cls.of(length, [(start, end, text)])

    @classmethod
    def of_one_range(cls, change: OneRange) -> ChangeSet:
        """The change a `OneRange` describes, built without validation: `change` must come
        from `as_one_range` or `map_one_range` (one_range.py), never from the wire."""
        _, deleted, ins, length, _ = change
        result = cls.__new__(cls)
        result._sections = one_range_sections(change)
        result._inserted = one_range_inserted(change)
        result._length = length
        result._new_length = length - deleted + ins
        return result

    @classmethod
    def from_json(cls, data: object) -> ChangeSet:
        """Parse the JSON form (docs/protocol.md "Editing"); `InvalidUpdate` when malformed.

        Law: `ChangeSet.from_json(c.to_json()) == c`, and `from_json(j).to_json() == j` for any
        well-formed `j`, even one CodeMirror would not produce (sections are kept as given).
        """
        if not isinstance(data, list):
            raise InvalidUpdate("changes must be a JSON array")
        sections: list[int] = []
        inserted: list[str] = []
        for index, part in enumerate(data):
            if not isinstance(part, list):
                sections.append(_parse_length(part))
                sections.append(_KEEP)
                continue
            if not part:
                raise InvalidUpdate("a replaced section needs its length")
            length = _parse_length(part[0])
            if len(part) == 1:
                sections.append(length)
                sections.append(0)
                continue
            lines = part[1:]
            for line in lines:
                if not isinstance(line, str):
                    raise InvalidUpdate("inserted lines must be strings")
                if "\n" in line or "\r" in line:
                    raise InvalidUpdate("an inserted line holds a line break")
                if not line.isascii() and _SURROGATE.search(line):
                    raise InvalidUpdate("an inserted line holds a lone surrogate")
            text = "\n".join(lines)
            while len(inserted) < index:
                inserted.append("")
            inserted.append(text)
            sections.append(length)
            sections.append(_units(text))
        return cls(sections, inserted)

    def iter_changes(self) -> Iterator[tuple[int, int, int, int, str]]:
        """Each replaced section as `(from_a, to_a, from_b, to_b, text)`: `from_a..to_a` of the
        old document became `text`, at `from_b..to_b` of the new one (CodeMirror's
        `iterChanges(f, true)`: sections are not joined)."""
        sections = self._sections
        pos_a = pos_b = 0
        for i in range(0, len(sections), 2):
            length, ins = sections[i], sections[i + 1]
            if ins < 0:
                pos_a += length
                pos_b += length
                continue
            yield pos_a, pos_a + length, pos_b, pos_b + ins, self._inserted[i >> 1] if ins else ""
            pos_a += length
            pos_b += ins

    def to_json(self) -> list[int | list[int | str]]:
        """The JSON form, equal (as `json.dumps` text) to CodeMirror's `toJSON()`."""
        parts: list[int | list[int | str]] = []
        sections = self._sections
        for i in range(0, len(sections), 2):
            length, ins = sections[i], sections[i + 1]
            if ins < 0:
                parts.append(length)
            elif ins == 0:
                parts.append([length])
            else:
                bit: list[int | str] = [length]
                bit.extend(self._inserted[i >> 1].split("\n"))
                parts.append(bit)
        return parts

    # -- operations ---------------------------------------------------------------------------

    def apply(self, text: str) -> str:
        """Apply to `text` (a Python `str` of `length` UTF-16 units).

        Law: `b.apply(a.apply(doc)) == a.compose(b).apply(doc)`.
        Raises `InvalidUpdate` if the length differs or a changed range's boundary falls inside
        a surrogate pair (docs/protocol.md "Conventions").
        """
        sections = self._sections
        inserted = self._inserted
        if _bmp_only(text):
            # Units are indexes (ASCII, accents, CJK...): slice the str directly.
            if len(text) != self._length:
                raise self._wrong_length(len(text))
            pieces: list[str] = []
            pos = 0
            for i in range(0, len(sections), 2):
                length, ins = sections[i], sections[i + 1]
                if ins < 0:
                    pieces.append(text[pos : pos + length])
                elif ins:
                    pieces.append(inserted[i >> 1])
                pos += length
            return "".join(pieces)
        # Otherwise work on the UTF-16-LE bytes, where a unit offset is twice a byte offset:
        # one encode and one decode, both in C, no per-character Python loop, and kept parts
        # passed to the join as views, not copies.
        try:
            encoded = text.encode("utf-16-le")
        except UnicodeEncodeError:
            raise InvalidUpdate("the document holds a lone surrogate") from None
        data = memoryview(encoded)
        if len(data) >> 1 != self._length:
            raise self._wrong_length(len(data) >> 1)
        chunks: list[bytes | memoryview] = []
        pos = 0
        for i in range(0, len(sections), 2):
            length, ins = sections[i], sections[i + 1]
            if ins < 0:
                chunks.append(data[2 * pos : 2 * (pos + length)])
            else:
                if _is_low_surrogate_at(data, pos) or _is_low_surrogate_at(data, pos + length):
                    raise InvalidUpdate(f"the change at {pos} splits a surrogate pair")
                if ins:
                    chunks.append(inserted[i >> 1].encode("utf-16-le"))
            pos += length
        return b"".join(chunks).decode("utf-16-le")

    def _wrong_length(self, actual: int) -> InvalidUpdate:
        return InvalidUpdate(
            f"the change applies to a document of {self._length} units, not {actual}"
        )

    def compose(self, other: ChangeSet) -> ChangeSet:
        """This change, then `other` (which applies to this one's result), as one change.

        Law: `a.compose(b).apply(doc) == b.apply(a.apply(doc))`.
        """
        if self._new_length != other._length:
            raise _mismatch()
        if self.empty:
            return other
        if other.empty:
            return self
        sections, inserted = _compose_sets(self, other, mk_set=True)
        assert inserted is not None
        return ChangeSet(sections, inserted)

    def map(self, other: ChangeDesc, before: bool = False) -> ChangeSet:
        """This change moved over `other` (same start document), to apply after it.

        With `before`, this change's insertions go first where both insert at one place;
        otherwise `other`'s do (CodeMirror's `a.map(b, before)`).
        Law (TP1): `a.compose(b.map(a))` and `b.compose(a.map(b, before=True))` give the same
        document.
        """
        if self._length != other._length:
            raise _mismatch()
        if other.empty:
            return self
        return self._mapped(other, before)

    def map_desc(self, other: ChangeDesc, before: bool = False) -> ChangeSet:
        """`map` without the shortcut for an empty `other`, as CodeMirror's `ChangeSet.mapDesc`
        (its result is normalized even then). `rebase_updates` relies on this to stay
        byte-identical to `@codemirror/collab`; elsewhere use `map`."""
        if self._length != other._length:
            raise _mismatch()
        return self._mapped(other, before)

    def as_one_range(self) -> OneRange | None:
        """This change, with its text, as a `OneRange` when it replaces one range, else None."""
        return one_range_of(self._sections, self._length, self._inserted)

    def _mapped(self, other: ChangeDesc, before: bool) -> ChangeSet:
        # Pairpad's O(1) path for two one-range changes (one_range.py); the walk otherwise.
        range_self = self.as_one_range()
        range_other = other.as_one_range() if range_self is not None else None
        if range_self is not None and range_other is not None:
            mapped = map_one_range(range_self, range_other, before)
            if mapped is not None:
                return ChangeSet.of_one_range(mapped)
        sections, inserted = _map_set(self, other, before, mk_set=True)
        assert inserted is not None
        return ChangeSet(sections, inserted)

    # -- value semantics ----------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChangeSet):
            return NotImplemented
        return self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(repr(self.to_json()))

    def __repr__(self) -> str:
        return f"ChangeSet.from_json({self.to_json()!r})"


def compose_all(changes: Sequence[ChangeSet], length: int) -> ChangeSet:
    """All of `changes`, in order, as one change of a `length`-unit document."""
    result = ChangeSet.empty_of(length)
    for change in changes:
        result = result.compose(change)
    return result
