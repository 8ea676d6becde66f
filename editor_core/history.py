"""A room's past, sans-I/O: replaying the log to a version, who last touched each line
(blame), and the one change that restores an old version (docs/protocol.md "History").

Positions are UTF-16 units, as everywhere on the wire. The blame rule, stated once: every
unit of the document carries the version of the update that last wrote it, and a line is
its units *with the line break that opens it* (line 1 opens with a virtual break at the
start of the document). An update that only deletes marks the unit just before the point
where the deletion closed (that line's break when the deletion started a line). A line's
version is the highest mark among its units: typing in a line, breaking it after its text
(a new line below) or joining the next line into it are all changes of that line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from editor_core.changeset import ChangeSet
from editor_core.positions import utf16_length


def change_counts(changes: ChangeSet) -> tuple[int, int]:
    """`(inserted, deleted)`: UTF-16 units the change writes and removes."""
    inserted = deleted = 0
    for from_a, to_a, from_b, to_b, _ in changes.iter_changes():
        inserted += to_b - from_b
        deleted += to_a - from_a
    return inserted, deleted


def replay(text: str, changes: Iterable[ChangeSet]) -> str:
    """`text` after each of `changes` in order."""
    for change in changes:
        text = change.apply(text)
    return text


def line_versions(text: str, base_version: int,
                  updates: Sequence[tuple[int, ChangeSet]]) -> list[int]:
    """The version that last touched each line of the document that `updates` (each with the
    version it made) produce from `text` (the document at `base_version`, whose lines all
    count as written at `base_version`). One entry per line, line 1 first."""
    # marks[0] is line 1's virtual opening break; unit i of the document is marks[i + 1].
    marks = [base_version] * (utf16_length(text) + 1)
    for version, changes in updates:
        for from_a, to_a, from_b, to_b, _ in changes.iter_changes():
            written = to_b - from_b
            marks[from_b + 1: from_b + 1 + to_a - from_a] = [version] * written
            if not written:
                marks[from_b] = version  # a deletion: the unit before where it closed
        text = changes.apply(text)
    versions = []
    start = 0
    for line in text.split("\n"):
        end = start + utf16_length(line) + 1  # the opening break and the line's units
        versions.append(max(marks[start:end]))
        start = end
    return versions


def restoring_change(current: str, target: str) -> ChangeSet | None:
    """The single-range change that turns `current` into `target` (their common start and
    end kept), or None when they are equal. Never splits a surrogate pair."""
    if current == target:
        return None
    limit = min(len(current), len(target))
    start = 0
    while start < limit and current[start] == target[start]:
        start += 1
    end = 0
    while end < limit - start and current[-1 - end] == target[-1 - end]:
        end += 1
    # Python indexes are code points, so no pair is split; the change speaks UTF-16.
    unit_start = utf16_length(current[:start])
    unit_end = utf16_length(current) - utf16_length(current[len(current) - end:])
    return ChangeSet.replace(utf16_length(current), unit_start, unit_end,
                             target[start: len(target) - end])
