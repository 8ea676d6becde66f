"""Changes of one range as five values, and their O(1) map: Pairpad's fast path under
`ChangeSet.map` (not in @codemirror/state; docs/architecture.md "ChangeSet and its fast paths").

Typing makes changes that replace one range. Two of them that do not touch map over each other
by moving a start, without the section walk of change.ts `mapSet`. This module works on the
flat sections of `changeset.py` (`[len, ins, ...]`, `ins == -1` keeps) and knows nothing else
of `ChangeSet`; `ChangeSet.map` and `stepwise.map_stepwise` use it.
"""

from __future__ import annotations

from collections.abc import Sequence

_KEEP = -1  # the `ins` of a kept section, as in changeset.py

# `(start, deleted, inserted, length, text)`: keep `start` units, replace `deleted` units with
# `inserted` units (`text`, "" for a change without texts), keep the rest of a `length`-unit
# document. A plain tuple: built and unpacked on every map, it must stay cheap.
OneRange = tuple[int, int, int, int, str]


def one_range_of(sections: Sequence[int], length: int, inserted: Sequence[str]) -> OneRange | None:
    """The change of these sections (of a `length`-unit document, with these per-section
    inserted texts) as a `OneRange`, when they are one changed range with at most one non-empty
    kept range on each side (exactly what `one_range_sections` rebuilds); else None."""
    n = len(sections)
    if n == 6:
        start, keep1, deleted, ins, end, keep2 = sections
        if not (keep1 < 0 and keep2 < 0 and ins >= 0 and start and end and (deleted or ins)):
            return None
        index = 1
    elif n == 4:
        first, ins1, second, ins2 = sections
        if ins1 < 0 and ins2 >= 0 and first and (second or ins2):
            start, deleted, ins, index = first, second, ins2, 1
        elif ins1 >= 0 and ins2 < 0 and second and (first or ins1):
            start, deleted, ins, index = 0, first, ins1, 0
        else:
            return None
    elif n == 2:
        deleted, ins = sections
        if ins < 0 or not (deleted or ins):
            return None
        start = index = 0
    else:
        return None
    text = inserted[index] if index < len(inserted) else ""
    return start, deleted, ins, length, text


def map_one_range(range_a: OneRange, range_b: OneRange, before: bool) -> OneRange | None:
    """`range_a` moved over `range_b` (same start document), in O(1), where the two ranges do
    not touch or both are insertions at one place (ordered by `before`): A's range moves by
    what B did before it, its lengths and text stay. None where the general walk must decide
    (touching or overlapping ranges).

    Law: when not None, `one_range_sections` of it equals the sections of change.ts
    `mapSet(a, b, before)` (tests/core/test_changeset_fastpath.py, exhaustively on small
    documents).
    """
    start_a, deleted_a, ins_a, length, text = range_a
    start_b, deleted_b, ins_b, length_b, _ = range_b
    if length != length_b:
        return None
    if start_b + deleted_b < start_a or (
        not before and start_a == start_b and not deleted_a and not deleted_b
    ):
        start = start_a - deleted_b + ins_b  # B's range is before A's
    elif start_a + deleted_a < start_b or (
        before and start_a == start_b and not deleted_a and not deleted_b
    ):
        start = start_a  # B's range is after A's
    else:
        return None
    return start, deleted_a, ins_a, length - deleted_b + ins_b, text


def one_range_sections(change: OneRange) -> list[int]:
    """The flat sections of `change`, as change.ts would build them."""
    start, deleted, ins, length, _ = change
    end = length - start - deleted
    sections = [start, _KEEP, deleted, ins] if start else [deleted, ins]
    if end:
        sections.append(end)
        sections.append(_KEEP)
    return sections


def one_range_inserted(change: OneRange) -> list[str]:
    """The per-section inserted texts of `change` (those of its `one_range_sections`)."""
    start, _, _, _, text = change
    if not text:
        return []
    return [text] if not start else ["", text]
