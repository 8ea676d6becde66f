"""editor_core/history.py: replay, blame's line versions against a unit-by-unit model that
reads the JSON form itself, and the restoring change."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from editor_core.changeset import ChangeSet
from editor_core.history import change_counts, line_versions, replay, restoring_change
from editor_core.positions import utf16_length
from tests.core.random_changes import change_chain, docs


def units(text: str) -> list[str]:
    data = text.encode("utf-16-le")
    return [data[i:i + 2].decode("utf-16-le", "surrogatepass") for i in range(0, len(data), 2)]


def model_line_versions(text: str, base: int, updates: list[tuple[int, Any]]) -> list[int]:
    """The rule of docs/protocol.md "History" on a list of (unit, version), slot 0 being
    line 1's virtual opening break; changes read from their JSON form."""
    doc: list[tuple[str, int]] = [("\n", base)] + [(u, base) for u in units(text)]
    for version, changes in updates:
        out, pos = [doc[0]], 1
        for part in changes:
            if isinstance(part, int):
                out += doc[pos:pos + part]
                pos += part
                continue
            deleted, lines = part[0], part[1:]
            pos += deleted
            written = units("\n".join(lines)) if lines else []
            if written:
                out += [(u, version) for u in written]
            elif deleted:
                out[-1] = (out[-1][0], version)
        doc = out + doc[pos:]
    versions: list[int] = []
    for unit, version in doc:
        if unit == "\n":
            versions.append(version)
        else:
            versions[-1] = max(versions[-1], version)
    return versions


@given(change_chain(6), st.integers(0, 3))
@settings(max_examples=300)
def test_line_versions_follow_the_unit_model(case: tuple[str, list[ChangeSet]],
                                             base: int) -> None:
    doc, chain = case
    updates = [(base + i + 1, change) for i, change in enumerate(chain)]
    versions = line_versions(doc, base, updates)
    final = replay(doc, chain)
    assert len(versions) == final.count("\n") + 1
    assert versions == model_line_versions(
        doc, base, [(v, c.to_json()) for v, c in updates])


def test_line_versions_examples() -> None:
    doc = "one\ntwo\nthree"
    after_typing = ChangeSet.replace(13, 5, 5, "X")  # tXwo
    assert line_versions(doc, 0, [(1, after_typing)]) == [0, 1, 0]
    new_line_below = ChangeSet.replace(13, 7, 7, "\nnew")  # after "two"
    assert line_versions(doc, 0, [(1, new_line_below)]) == [0, 0, 1, 0]
    join = ChangeSet.replace(13, 7, 8, "")  # "twothree"
    assert line_versions(doc, 0, [(1, join)]) == [0, 1]
    backspace = ChangeSet.replace(13, 0, 1, "")  # "ne"
    assert line_versions(doc, 0, [(1, backspace)]) == [1, 0, 0]
    assert line_versions("", 4, []) == [4]


@given(docs(), docs())
def test_restoring_change_turns_one_document_into_the_other(current: str, target: str) -> None:
    change = restoring_change(current, target)
    if current == target:
        assert change is None
        return
    assert change is not None
    assert change.length == utf16_length(current)
    assert change.apply(current) == target
    assert len(list(change.iter_changes())) == 1


def test_restoring_change_keeps_the_common_ends_and_whole_pairs() -> None:
    change = restoring_change("a😀b", "a😁b")  # the pairs share their high surrogate
    assert change is not None
    assert list(change.iter_changes()) == [(1, 3, 1, 3, "😁")]


def test_change_counts_are_utf16_units() -> None:
    change = ChangeSet.of(5, [(0, 2, "😀"), (4, 5, "")])
    assert change_counts(change) == (2, 3)
    assert change_counts(ChangeSet.empty_of(3)) == (0, 0)
