"""`editor_core.presence`: participants, colors, cursors (docs/protocol.md "Presence, runs,
completions")."""

from __future__ import annotations

import pytest

from editor_core.authority import Authority
from editor_core.changeset import ChangeSet
from editor_core.presence import PALETTE, Participant, Presence


def test_join_leave_and_wire_shape() -> None:
    presence = Presence()
    ada = presence.join("c-ada", "Ada")
    bob = presence.join("c-bob", "Bob")
    assert [p.client_id for p in presence.participants()] == ["c-ada", "c-bob"]
    assert len(presence) == 2
    assert "c-ada" in presence
    assert ada.to_wire() == {
        "clientId": "c-ada",
        "name": "Ada",
        "color": PALETTE[0],
        "cursor": None,
        "role": "editor",
    }
    assert presence.leave("c-ada") == ada
    assert presence.leave("c-ada") is None
    assert presence.participants() == [bob]
    assert presence.get("c-ada") is None


def test_colors_are_distinct_until_the_palette_runs_out() -> None:
    presence = Presence()
    colors = [presence.join(f"c{i}", f"n{i}").color for i in range(len(PALETTE))]
    assert colors == list(PALETTE)
    # The 13th shares, with the least used (all used once: the first in palette order).
    assert presence.join("extra", "x").color == PALETTE[0]
    assert 12 <= len(set(PALETTE)) == len(PALETTE)
    assert all(c.startswith("#") and len(c) == 7 for c in PALETTE)


def test_a_freed_color_goes_to_the_next_joiner() -> None:
    presence = Presence()
    for i in range(4):
        presence.join(f"c{i}", "n")
    presence.leave("c1")
    assert presence.join("new", "n").color == PALETTE[1]


def test_colors_are_deterministic() -> None:
    def run() -> list[str]:
        presence = Presence()
        out = []
        for i in range(30):
            out.append(presence.join(f"c{i}", "n").color)
            if i % 3 == 0:
                presence.leave(f"c{i // 2}")
        return out

    assert run() == run()


def test_a_reconnect_keeps_its_color_when_it_can() -> None:
    presence = Presence()
    presence.join("a", "A")
    blue = presence.join("b", "B").color
    presence.leave("b")
    presence.join("c", "C")  # takes blue, the free one
    presence.leave("c")
    assert presence.join("b", "B").color == blue


def test_a_replacing_connection_keeps_color_and_cursor() -> None:
    presence = Presence()
    first = presence.join("a", "Ada")
    presence.set_cursor("a", 1, 3, version=4)
    again = presence.join("a", "Ada L.")
    assert (again.color, again.cursor, again.cursor_version) == (first.color, (1, 3), 4)
    assert again.name == "Ada L."
    assert len(presence) == 1


def test_cursor_wire_shape_and_clear() -> None:
    presence = Presence()
    presence.join("a", "Ada")
    participant = presence.set_cursor("a", 5, 2, version=0)
    assert participant.to_wire()["cursor"] == {"anchor": 5, "head": 2}
    assert presence.to_wire() == [participant.to_wire()]
    assert presence.clear_cursor("a").cursor is None
    with pytest.raises(KeyError):
        presence.set_cursor("nobody", 0, 0, version=0)


def test_cursors_follow_the_document() -> None:
    room = Authority("hello world", 0)
    presence = Presence()
    presence.join("a", "Ada")
    presence.join("b", "Bob")
    presence.join("c", "Cy")
    presence.set_cursor("a", 6, 11, version=0)  # selects "world"
    presence.set_cursor("b", 0, 0, version=0)
    room.push("x", 0, [ChangeSet.replace(11, 0, 0, "😀 ")])  # +3 units at 0
    presence.set_cursor("c", 3, 3, version=1)  # already current
    room.push("x", 1, [ChangeSet.replace(14, 3, 8, "")])  # delete "hello"
    presence.map_cursors(room)
    cursors = {p.client_id: (p.cursor, p.cursor_version) for p in presence.participants()}
    assert cursors == {"a": ((4, 9), 2), "b": ((3, 3), 2), "c": ((3, 3), 2)}


def test_a_cursor_older_than_the_history_is_dropped() -> None:
    room = Authority("", 0, keep_updates=1)
    presence = Presence()
    presence.join("a", "Ada")
    presence.set_cursor("a", 0, 0, version=0)
    room.push("x", 0, [ChangeSet.replace(0, 0, 0, "a")])
    room.push("x", 1, [ChangeSet.replace(1, 1, 1, "b")])
    presence.map_cursors(room)
    assert presence.get("a") == Participant("a", "Ada", PALETTE[0])


def test_an_empty_palette_is_refused() -> None:
    with pytest.raises(ValueError, match="palette"):
        Presence(palette=())
