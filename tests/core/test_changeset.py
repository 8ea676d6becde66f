"""`editor_core.changeset`: parsing, applying, and the laws of compose / map / map_pos."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from editor_core.changeset import ChangeSet, compose_all
from editor_core.errors import InvalidUpdate
from editor_core.positions import utf16_length
from tests.core.random_changes import boundaries, change_chain, doc_and_changes, docs

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# -- JSON ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "doc", "result"),
    [
        ([], "", ""),
        ([5], "hello", "hello"),
        ([[5]], "hello", ""),
        ([1, [3, "E"], 1], "hello", "hEo"),
        ([[0, "a", "b"], 2], "xy", "a\nbxy"),
        ([2, [0, "😀"]], "ab", "ab😀"),
        ([[2, "é"], 1], "😀!", "é!"),
        ([[1, ""], 1], "ab", "b"),
        ([3, 4], "abcdefg", "abcdefg"),  # unnormalized, as CodeMirror accepts
    ],
)
def test_from_json_applies(data: object, doc: str, result: str) -> None:
    change = ChangeSet.from_json(data)
    assert change.apply(doc) == result
    assert change.length == utf16_length(doc)
    assert change.new_length == utf16_length(result)


def test_to_json_keeps_sections_as_given() -> None:
    # CodeMirror keeps unmerged sections (`[3, 4]`) and writes `[n, ""]` back as `[n]`.
    for data, expected in [([3, 4], [3, 4]), ([[1, ""], 1], [[1], 1]), ([0, [0]], [0, [0]])]:
        assert ChangeSet.from_json(data).to_json() == expected


@pytest.mark.parametrize(
    "data",
    [
        None,
        "5",
        {"a": 1},
        [-1],
        [True],
        [[False, "x"]],
        [1.0],
        [[1.5]],
        ["3"],
        [[]],
        [["x"]],
        [[0, 5]],
        [[0, "a\nb"]],
        [[0, "a\rb"]],
        [[0, "\ud83d"]],
        [[0, "ok", None]],
        [[0, "x"], {"n": 1}],
    ],
)
def test_from_json_rejects_malformed(data: object) -> None:
    with pytest.raises(InvalidUpdate):
        ChangeSet.from_json(data)


@given(doc_and_changes())
@PROPERTY
def test_json_round_trip(case: tuple[str, list[ChangeSet]]) -> None:
    _doc, [change] = case
    data = json.loads(dumps(change.to_json()))
    again = ChangeSet.from_json(data)
    assert again == change
    assert dumps(again.to_json()) == dumps(change.to_json())
    assert (again.length, again.new_length, again.empty) == (
        change.length,
        change.new_length,
        change.empty,
    )


# -- apply -----------------------------------------------------------------------------------


def test_apply_refuses_a_document_of_another_length() -> None:
    change = ChangeSet.from_json([2, [0, "!"]])
    with pytest.raises(InvalidUpdate):
        change.apply("abc")
    with pytest.raises(InvalidUpdate):
        change.apply("😀😀")  # 4 units


@pytest.mark.parametrize(
    "data",
    [
        [1, [0, "x"], 1],  # insert inside the pair
        [1, [1]],  # delete its second half
        [[1], 1],  # delete its first half
        [1, [1, "y"]],
    ],
)
def test_apply_refuses_to_split_a_surrogate_pair(data: object) -> None:
    with pytest.raises(InvalidUpdate, match="surrogate"):
        ChangeSet.from_json(data).apply("😀")


def test_apply_keeps_whole_pairs_around_changes() -> None:
    doc = "a😀b𝄞c"
    assert utf16_length(doc) == 7
    assert ChangeSet.from_json([3, [1, "é"], 3]).apply(doc) == "a😀é𝄞c"
    assert ChangeSet.from_json([[3], 1, [2], 1]).apply(doc) == "bc"


@given(doc_and_changes())
@PROPERTY
def test_apply_matches_a_code_point_model(case: tuple[str, list[ChangeSet]]) -> None:
    doc, [change] = case
    # Reference: rebuild through Python indexes, one section at a time.
    points = boundaries(doc)
    expected, pos = [], 0
    for part in change.to_json():
        if isinstance(part, int):
            expected.append(doc[points.index(pos) : points.index(pos + part)])
            pos += part
        else:
            length = part[0]
            assert isinstance(length, int)
            expected.append("\n".join(str(line) for line in part[1:]))
            pos += length
    assert change.apply(doc) == "".join(expected)


# -- compose and map -------------------------------------------------------------------------


@given(change_chain(3))
@PROPERTY
def test_compose_equals_applying_in_sequence(case: tuple[str, list[ChangeSet]]) -> None:
    doc, (a, b, c) = case
    in_sequence = c.apply(b.apply(a.apply(doc)))
    assert a.compose(b).compose(c).apply(doc) == in_sequence
    assert a.compose(b.compose(c)).apply(doc) == in_sequence
    assert compose_all([a, b, c], a.length).apply(doc) == in_sequence
    assert a.compose(b).length == a.length
    assert a.compose(b).new_length == c.length


@given(doc_and_changes(2), st.booleans())
@PROPERTY
def test_tp1_mapped_changes_converge(case: tuple[str, list[ChangeSet]], flip: bool) -> None:
    doc, (a, b) = case
    if flip:
        a, b = b, a
    left = a.compose(b.map(a)).apply(doc)
    right = b.compose(a.map(b, before=True)).apply(doc)
    assert left == right
    assert b.map(a).length == a.new_length
    assert a.map(b, before=True).length == b.new_length
    assert utf16_length(left) == a.compose(b.map(a)).new_length


def test_map_tie_break_follows_codemirror() -> None:
    a = ChangeSet.from_json([1, [0, "A"], 1])
    b = ChangeSet.from_json([1, [0, "B"], 1])
    assert a.compose(b.map(a)).apply("xy") == "xABy"
    assert b.compose(a.map(b, before=True)).apply("xy") == "xABy"
    assert b.compose(a.map(b)).apply("xy") == "xBAy"


def test_empty_changes_are_identities() -> None:
    change = ChangeSet.from_json([1, [1, "z"], 2])
    empty = ChangeSet.empty_of(4)
    assert empty.empty
    assert ChangeSet.empty_of(0).empty
    assert empty.to_json() == [4]
    assert ChangeSet.empty_of(0).to_json() == []
    assert empty.compose(change) is change
    assert change.compose(empty) is change
    assert change.map(empty) is change
    assert not change.empty


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(InvalidUpdate):
        ChangeSet.empty_of(3).compose(ChangeSet.empty_of(4))
    with pytest.raises(InvalidUpdate):
        ChangeSet.empty_of(3).map(ChangeSet.from_json([[4]]))


def test_of_builds_what_codemirror_builds() -> None:
    # Touching ranges stay separate sections (for mapping); same-place inserts merge.
    assert ChangeSet.of(3, [(0, 1, "x"), (1, 2, "y")]).to_json() == [[1, "x"], [1, "y"], 1]
    assert ChangeSet.of(3, [(1, 1, "a"), (1, 1, "b")]).to_json() == [1, [0, "ab"], 2]
    assert ChangeSet.of(3, [(1, 1, "")]).to_json() == [3]
    assert ChangeSet.replace(2, 0, 2, "p\nq").to_json() == [[2, "p", "q"]]
    with pytest.raises(InvalidUpdate):
        ChangeSet.of(3, [(2, 3, "x"), (0, 1, "y")])
    with pytest.raises(InvalidUpdate):
        ChangeSet.of(3, [(0, 4, "")])


# -- map_pos ---------------------------------------------------------------------------------


def test_map_pos_assoc() -> None:
    change = ChangeSet.from_json([2, [0, "xyz"], [2], 1])  # insert 3 at 2, delete 2..4
    assert [change.map_pos(p) for p in range(6)] == [0, 1, 2, 5, 5, 6]
    assert [change.map_pos(p, 1) for p in range(6)] == [0, 1, 5, 5, 5, 6]
    with pytest.raises(ValueError, match="outside"):
        change.map_pos(6)


@given(doc_and_changes(), st.data())
@PROPERTY
def test_map_pos_agrees_with_map(case: tuple[str, list[ChangeSet]], data: st.DataObject) -> None:
    doc, [a] = case
    length = utf16_length(doc)
    pos = data.draw(st.sampled_from(boundaries(doc)))
    marker = ChangeSet.replace(length, pos, pos, "\x00")
    # A one-character insertion at `pos`, mapped over `a`, lands where map_pos puts `pos`:
    # after `a`'s own insertion there unless `before`.
    mapped_after = marker.map(a).apply(a.apply(doc)).index("\x00")
    assert boundaries(a.apply(doc))[mapped_after] == a.map_pos(pos, 1)
    inside = any(
        start < pos < end
        for start, end in _changed_ranges(a)  # inside a replaced range, a marker goes after it
    )
    if not inside:
        mapped_before = marker.map(a, before=True).apply(a.apply(doc)).index("\x00")
        assert boundaries(a.apply(doc))[mapped_before] == a.map_pos(pos, -1)
    assert a.map_pos(pos, -1) <= a.map_pos(pos, 1)


def _changed_ranges(change: ChangeSet) -> list[tuple[int, int]]:
    ranges, pos = [], 0
    for part in change.to_json():
        if isinstance(part, int):
            pos += part
        else:
            length = part[0]
            assert isinstance(length, int)
            ranges.append((pos, pos + length))
            pos += length
    return ranges


@given(docs())
@PROPERTY
def test_empty_change_maps_positions_to_themselves(doc: str) -> None:
    empty = ChangeSet.empty_of(utf16_length(doc))
    assert empty.apply(doc) == doc
    assert all(empty.map_pos(p, 1) == p for p in boundaries(doc))


# -- the fast path -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "bmp_only"),
    [
        ("", True),
        ("plain", True),
        ("café", True),  # 1 byte per code point, not ASCII
        ("ā 中文", True),  # 2 bytes per code point
        ("a😀", False),
        ("𝄞" * 100, False),
        (("😀" + "x" * 50)[1:], True),  # a slice is stored in the smallest kind again
    ],
)
def test_bmp_only_tells_the_str_kind(text: str, bmp_only: bool) -> None:
    from editor_core.changeset import _bmp_only

    assert _bmp_only(text) is bmp_only
    assert bmp_only == (utf16_length(text) == len(text))


def test_apply_on_each_str_kind_inserting_each_kind() -> None:
    for doc in ["abc", "cafè", "中文字", "a😀b"]:
        length = utf16_length(doc)
        for text in ["x", "é", "中", "😀", "😀\n中"]:
            change = ChangeSet.of(length, [(0, 0, text), (length, length, text)])
            assert change.apply(doc) == text + doc + text
            assert change.new_length == utf16_length(text + doc + text)


# -- descriptions ------------------------------------------------------------------------------


@given(change_chain(2), doc_and_changes(2))
@PROPERTY
def test_descs_have_the_sections_of_the_sets(
    chain: tuple[str, list[ChangeSet]], pair: tuple[str, list[ChangeSet]]
) -> None:
    _doc, (a, b) = chain
    composed = a.compose(b)
    assert a.desc.compose_desc(b.desc) == composed.desc or a.empty or b.empty
    _doc, (c, d) = pair
    assert c.desc.map_desc(d.desc, before=True) == c.map(d, before=True).desc or d.empty
    assert c.map_desc(d).to_json() == c.map(d).to_json() or d.empty
    for pos in range(c.length + 1):
        assert c.desc.map_pos(pos, 1) == c.map_pos(pos, 1)


def test_map_desc_of_a_set_maps_even_over_an_empty_change() -> None:
    # CodeMirror's ChangeSet.mapDesc has no shortcut (it normalizes), ChangeDesc.mapDesc does.
    odd = ChangeSet.from_json([1, 2, [0, "x"]])
    empty = ChangeSet.empty_of(3)
    assert odd.map(empty) is odd
    assert odd.map_desc(empty).to_json() == [3, [0, "x"]]
    assert odd.desc.map_desc(empty) == odd.desc


def test_refusals_and_value_semantics() -> None:
    with pytest.raises(InvalidUpdate, match="\\\\r"):
        ChangeSet.of(0, [(0, 0, "a\rb")])
    with pytest.raises(InvalidUpdate, match="surrogate"):
        ChangeSet.of(0, [(0, 0, "\ud83d")])
    with pytest.raises(InvalidUpdate, match="surrogate"):
        ChangeSet.from_json([3, [0, "x"]]).apply("😀\udc00")  # (only seen on the UTF-16 path)
    change = ChangeSet.from_json([1, [0, "x"]])
    assert change == ChangeSet.from_json([1, [0, "x"]])
    assert len({change, ChangeSet.from_json([1, [0, "x"]]), change.map(change)}) == 2
    assert change != [1, [0, "x"]]
    assert change.desc != change
    assert len({change.desc, ChangeSet.from_json([1, [0, "y"]]).desc}) == 1
    assert repr(change) == "ChangeSet.from_json([1, [0, 'x']])"
    assert repr(change.desc) == "ChangeDesc([1, -1, 0, 1])"
    with pytest.raises(InvalidUpdate):
        change.desc.compose_desc(ChangeSet.empty_of(1).desc)
    with pytest.raises(InvalidUpdate):
        change.desc.map_desc(ChangeSet.empty_of(2).desc)
    with pytest.raises(InvalidUpdate):
        change.map_desc(ChangeSet.empty_of(2))
