"""Mapping pending changes over accepted ones one at a time: the work of
`authority.rebase_stepwise` (docs/architecture.md "Rebasing: one deliberate departure"), with
one-range changes kept as `OneRange`s between steps instead of a `ChangeSet` per map.
"""

from __future__ import annotations

from collections.abc import Sequence

from editor_core.changeset import ChangeSet
from editor_core.one_range import map_one_range


def map_stepwise(
    changes: Sequence[ChangeSet], steps: Sequence[ChangeSet | None]
) -> list[ChangeSet]:
    """What is left of `changes` (consecutive, each applying after the one before) once taken
    through `steps` in turn. A `None` step drops the first remaining change (it was accepted
    as it is); a change step maps the remaining ones over it as collab's `rebaseUpdates` over
    one update does: `c.map(over)`, then `over = over.map_desc(c, before=True)` for the next.

    Law: equals doing exactly those `map` / `map_desc` calls, in that order
    (tests/core/test_changeset_fastpath.py). One-range changes stay `OneRange`s between steps
    (O(1) per map, no objects) and become `ChangeSet`s once, at the end.
    """
    sets: list[ChangeSet | None] = list(changes)
    ranges = [change.as_one_range() for change in changes]
    first = 0
    for step in steps:
        if step is None:
            first += 1
            continue
        over: ChangeSet | None = step
        over_range = step.as_one_range()
        last = len(sets) - 1
        for j in range(first, len(sets)):
            mine = ranges[j]
            mapped = None
            if mine is not None and over_range is not None:
                mapped = map_one_range(mine, over_range, False)
            if mapped is not None and over_range is not None:
                ranges[j] = mapped
                sets[j] = None
                if j < last:
                    assert mine is not None
                    over_back = map_one_range(over_range, mine, True)
                    if over_back is not None:
                        over, over_range = None, over_back
                        continue
                    # Not reached: `map_one_range` applies both ways or neither. Kept so that
                    # this loop never depends on that.
                    over = ChangeSet.of_one_range(over_range).map_desc(
                        ChangeSet.of_one_range(mine), before=True
                    )
                    over_range = over.as_one_range()
                continue
            mine_set = sets[j]
            if mine_set is None:
                assert mine is not None
                mine_set = ChangeSet.of_one_range(mine)
            if over is None:
                assert over_range is not None
                over = ChangeSet.of_one_range(over_range)
            result = mine_set.map(over)
            sets[j] = result
            ranges[j] = result.as_one_range()
            if j < last:
                over = over.map_desc(mine_set, before=True)
                over_range = over.as_one_range()
    result_sets = []
    for j in range(first, len(sets)):
        change = sets[j]
        if change is None:
            change_range = ranges[j]
            assert change_range is not None
            change = ChangeSet.of_one_range(change_range)
        result_sets.append(change)
    return result_sets
