"""The O(1) mapping of one-range changes (`_map_single`) against the general walk (`_map_set`).

`ChangeSet.map`, `ChangeSet.map_desc` and `ChangeDesc.map_desc` take the fast path where it
applies; these tests check that every result (sections, inserted texts, lengths) is exactly
the one the general walk (a port of change.ts `mapSet`) gives, exhaustively on small documents
and on random single- and multi-range changes with astral characters.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from editor_core.authority import Update, rebase_stepwise
from editor_core.changeset import ChangeDesc, ChangeSet, _map_set, _map_single
from tests.core.random_changes import Pick, change_chain, doc_and_changes, random_change

PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def general_map(a: ChangeSet, b: ChangeDesc, before: bool) -> ChangeSet:
    sections, inserted = _map_set(a, b, before, mk_set=True)
    assert inserted is not None
    return ChangeSet(sections, inserted)


def general_map_desc(a: ChangeDesc, b: ChangeDesc, before: bool) -> ChangeDesc:
    return ChangeDesc(_map_set(a, b, before, mk_set=False)[0])


def state(change: ChangeDesc) -> tuple[object, ...]:
    """Everything a change holds, so that equality here is stricter than `==`."""
    inserted = change._inserted if isinstance(change, ChangeSet) else None
    return (type(change), change._sections, inserted, change.length, change.new_length)


def assert_same_as_general(a: ChangeSet, b: ChangeSet, before: bool) -> None:
    expected = general_map(a, b, before)
    if not b.empty:  # `map` returns `a` itself over an empty change
        assert state(a.map(b, before)) == state(expected)
    assert state(a.map_desc(b, before)) == state(expected)
    assert state(a.map_desc(b.desc, before)) == state(expected)
    if not b.empty:
        desc = a.desc.map_desc(b.desc, before)
        assert state(desc) == state(general_map_desc(a.desc, b.desc, before))
    fast = _map_single(a, b, before)
    if fast is not None:
        assert fast == expected._sections


def one_range_changes(length: int) -> list[ChangeSet]:
    """Every change of a `length`-unit document that replaces one range (texts of 0-2 units,
    one of them astral), plus the unnormalized shapes the fast path must leave alone."""
    changes = []
    for start in range(length + 1):
        for end in range(start, length + 1):
            for text in ("", "x", "😀"):
                if start < end or text:
                    changes.append(ChangeSet.replace(length, start, end, text))
    changes.append(ChangeSet.empty_of(length))
    if length:
        changes.append(ChangeSet.from_json([0, [length, "y"]]))  # a zero-length keep first
        changes.append(ChangeSet.from_json([[0], length]))  # a change that changes nothing
        changes.append(ChangeSet.from_json([[length, "", "z"]]))  # a two-line insertion
    return changes


@pytest.mark.parametrize("length", range(6))
def test_fast_path_equals_general_exhaustively(length: int) -> None:
    changes = one_range_changes(length)
    for a, b in itertools.product(changes, repeat=2):
        for before in (False, True):
            assert_same_as_general(a, b, before)


def test_fast_path_is_taken_for_typing() -> None:
    # Disjoint ranges and insertions at one place are mapped without the walk.
    a = ChangeSet.replace(10, 2, 2, "a")
    assert _map_single(a, ChangeSet.replace(10, 5, 7, "bb"), before=False) is not None
    assert _map_single(a, ChangeSet.replace(10, 2, 2, "b"), before=True) is not None
    assert _map_single(a, ChangeSet.replace(10, 2, 2, "b"), before=False) is not None
    # Touching or overlapping ranges take the general walk.
    assert _map_single(a, ChangeSet.replace(10, 0, 2, ""), before=False) is None
    assert _map_single(a, ChangeSet.replace(10, 2, 4, ""), before=True) is None


@PROPERTY
@given(doc_and_changes(count=2), st.booleans())
def test_fast_path_equals_general_on_random_changes(
    case: tuple[str, list[ChangeSet]], before: bool
) -> None:
    _, (a, b) = case
    assert_same_as_general(a, b, before)
    assert_same_as_general(b, a, before)


@PROPERTY
@given(doc_and_changes(count=3), st.booleans())
def test_fast_path_results_map_on_like_general_ones(
    case: tuple[str, list[ChangeSet]], before: bool
) -> None:
    # A fast result is then mapped again (as in a rebase): it must behave as the walk's.
    _, (a, b, c) = case
    mapped = a.map_desc(b, before)
    over = c.map_desc(b, not before)
    assert_same_as_general(mapped, over, before)
    assert state(mapped.map_desc(over, before)) == state(
        general_map(general_map(a, b, before), general_map(c, b, not before), before)
    )


def rebase_stepwise_reference(updates: list[Update], over: list[Update]) -> list[Update]:
    """`rebase_stepwise` as its law states it (`rebase_updates` over one update at a time),
    with every map done by the general walk."""
    pending = list(updates)
    for update in over:
        if not pending:
            break
        if pending[0].client_id == update.client_id:
            pending = pending[1:]
            continue
        changes: ChangeSet = update.changes
        rebased = []
        for mine in pending:
            mapped = mine.changes if changes.empty else general_map(mine.changes, changes, False)
            rebased.append(Update(mine.client_id, mapped))
            changes = general_map(changes, mine.changes, True)
        pending = rebased
    return pending


@PROPERTY
@given(st.data(), st.integers(1, 4), st.integers(0, 6), st.booleans())
def test_rebase_stepwise_equals_one_rebase_updates_per_update(
    data: st.DataObject, own: int, others: int, resent: bool
) -> None:
    # A push of `own` chained changes over `others` changes accepted since (by two other
    # clients), after the push's own first change when `resent` (a push sent again).
    pick: Pick = lambda lo, hi: data.draw(st.integers(lo, hi))  # noqa: E731
    doc, pushed = data.draw(change_chain(count=own))
    text = pushed[0].apply(doc) if resent else doc
    over = [Update("me", pushed[0])] if resent else []
    for index in range(others):
        # Mostly one-range changes (typing), sometimes several ranges.
        change = random_change(pick, text, max_edits=pick(1, 2) if index % 3 else 3)
        over.append(Update(f"other{index % 2}", change))
        text = change.apply(text)
    updates = [Update("me", change) for change in pushed]
    expected = rebase_stepwise_reference(updates, over)
    assert rebase_stepwise(updates, over) == expected
    assert rebase_stepwise(updates, over) == rebase_stepwise_reference(updates, over)
    assert [state(update.changes) for update in rebase_stepwise(updates, over)] == [
        state(general) for general in (update.changes for update in expected)
    ]
