"""The load generator of `scripts/bench_collab`: its Pairpad authors read a `code_update`
without decoding it, and what they learn must be what the frame says as the server encodes it;
its observers join at the same places of the room in every run."""

from __future__ import annotations

import json
import time

import pytest

from editor_core.session import Persist, Send
from scripts.collab_bench.__main__ import join_phases
from scripts.collab_bench.worker import Editor, Fleet
from server.wire import encode
from tests.core.test_session import insert, joined, make, push


def undecoded(data: object) -> None:
    raise AssertionError("a lean author decoded a code_update")


def author(fleet: Fleet, client_id: str) -> Editor:
    editor = Editor(fleet, 0, "room1", client_id, author=True)
    editor.version = 0
    return editor


def test_a_lean_author_learns_the_version_and_its_own_confirmations_from_the_wire(
        monkeypatch: pytest.MonkeyPatch) -> None:
    session = make("")
    ada, bob, _ = joined(session, "ada"), joined(session, "bob"), joined(session, "b")
    persists = push(session, ada, 0, insert(0, 0, "~0000000000a1"),
                    insert(13, 13, "~0000000000a2"))
    persists += push(session, bob, 0, insert(0, 0, "~0000000000b1"))
    for effect in persists:
        assert isinstance(effect, Persist)
        session.committed(effect.base_version + len(effect.updates))
    [send] = [e for e in session.publish() if isinstance(e, Send)]
    wire = encode(send.frame).encode()

    fleet = Fleet("127.0.0.1", [1], False, 0, workload="token")
    fleet.window = (0.0, float("inf"))
    lean_ada, lean_b = author(fleet, "ada"), author(fleet, "b")
    lean_ada.sent_upto, lean_ada.push_sent_at = 2, time.monotonic()  # two updates in flight
    with monkeypatch.context() as patch:
        patch.setattr(json, "loads", undecoded)
        for editor in (lean_ada, lean_b):
            editor.on_message(wire)

    frame = json.loads(wire)
    assert lean_ada.version == lean_b.version == frame["version"] + len(frame["updates"]) == 3
    assert lean_ada.confirmed == 2  # its own two: "b", a prefix of "bob", counts none
    assert lean_b.confirmed == 0
    assert fleet.stats.out_of_order == 0
    assert sum(fleet.stats.confirm.values()) == 1  # ada's round trip, timed once


def test_other_frames_are_still_decoded() -> None:
    fleet = Fleet("127.0.0.1", [1], False, 0, workload="token")
    editor = author(fleet, "ada")
    editor.on_message(encode({"type": "init", "version": 7, "participants": [{}, {}]}).encode())
    assert (editor.version, editor.participants) == (7, 2)


def test_observers_join_alone_at_evenly_spread_places_among_the_authors() -> None:
    authors, observers = list(range(8)), ["o1", "o2", "o3"]
    assert join_phases(authors + observers, 8, 3) == [
        [0, 1], ["o1"], [2, 3], ["o2"], [4, 5], ["o3"], [6, 7]]
    order = [c for phase in join_phases([*range(250), "o1", "o2", "o3"], 250, 3) for c in phase]
    assert [order.index(o) for o in ("o1", "o2", "o3")] == [62, 126, 189]
    assert sorted(order[:62] + order[63:126] + order[127:189] + order[190:]) == list(range(250))
