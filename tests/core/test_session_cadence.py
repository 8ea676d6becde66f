"""The publish cadence of a busy room (editor_core/session.py `Cadence`): commits completed
within one window go out as one `code_update`; a lone edit, or any edit in a quiet room, is
published without waiting; nothing is broadcast before it is committed."""

from __future__ import annotations

from typing import Any

import pytest

from editor_core.authority import Authority
from editor_core.changeset import ChangeSet
from editor_core.session import Cadence, Persist, RoomSession
from tests.core.test_session import INFO, LIMITS, Peer, deliver, insert

WINDOW = 0.005


def make(busy_authors: int = 3, window: float = WINDOW, recent: int = 64) -> RoomSession[Peer]:
    return RoomSession(INFO, Authority("", 0), max_peers=50, output_cap=8, limits=LIMITS,
                       cadence=Cadence(window, busy_authors, recent))


def join(session: RoomSession[Peer], count: int) -> list[Peer]:
    peers = [Peer(f"p{i}") for i in range(count)]
    for peer in peers:
        deliver(session.join(peer, peer.client_id, peer.client_id))
    return peers


def push(session: RoomSession[Peer], peer: Peer) -> int:
    """`peer` types one character at the start; the version its commit reaches."""
    length = session.authority.length
    [persist] = deliver(session.push(peer, peer.client_id, session.authority.version,
                                     [ChangeSet.from_json(insert(length, 0, "x"))], "now"))
    assert isinstance(persist, Persist)
    return persist.base_version + len(persist.updates)


def updates(peer: Peer) -> list[dict[str, Any]]:
    return [f for f in peer.frames if f["type"] == "code_update"]


def test_a_lone_edit_in_a_quiet_room_is_published_without_waiting() -> None:
    session = make()
    ada, bob = join(session, 2)
    for now in (10.0, 10.001, 10.002):  # one author typing fast: never busy
        session.committed(push(session, ada))
        assert not session.busy
        assert session.publish_delay(now) == 0
        deliver(session.publish(now))
    assert [len(f["updates"]) for f in updates(bob)] == [1, 1, 1]


def test_commits_completed_within_a_busy_window_go_out_as_one_code_update() -> None:
    session = make(busy_authors=3)
    peers = join(session, 6)
    observer = peers[5]
    versions = [push(session, peer) for peer in peers[:4]]  # 4 authors > 3: busy
    assert session.busy
    # The first commit after a quiet spell goes out at once ...
    session.committed(versions[0])
    assert session.publish_delay(1.0) == 0
    deliver(session.publish(1.0))
    # ... the next ones, committed within the window, wait for its end ...
    session.committed(versions[1])
    assert session.publish_delay(1.001) == pytest.approx(WINDOW - 0.001)
    session.committed(versions[2])
    assert session.publish_delay(1.003) == pytest.approx(WINDOW - 0.003)
    deliver(session.publish(1.0 + WINDOW))
    # ... and go out together, in order, as one frame; committed updates only.
    assert [f["version"] for f in updates(observer)] == [0, 1]
    assert [[u["clientId"] for u in f["updates"]] for f in updates(observer)] == [
        ["p0"], ["p1", "p2"]]
    assert session.version == 3 < session.authority.version
    # A commit long after the last frame is published at once, busy or not.
    session.committed(versions[3])
    assert session.busy
    assert session.publish_delay(2.0) == 0
    deliver(session.publish(2.0))
    assert len(updates(observer)) == 3
    assert session.settled
    for peer in peers:  # every peer, the pushers included (their confirmation), got the same
        assert updates(peer) == updates(observer)


def test_a_room_is_busy_only_while_many_authors_made_its_last_updates() -> None:
    session = make(busy_authors=2, recent=4)
    ada, bob, cy = join(session, 3)
    for peer in (ada, bob, cy):
        push(session, peer)
    assert session.busy  # 3 authors among the last 3 updates
    for _ in range(3):
        push(session, ada)
    assert not session.busy  # the last 4 updates: cy, ada, ada, ada


def test_without_a_window_every_commit_is_published_at_once() -> None:
    session = make(window=0.0)
    peers = join(session, 6)
    for peer in peers[:5]:
        session.committed(push(session, peer))
        assert session.publish_delay(1.0) == 0
        deliver(session.publish(1.0))
    assert session.busy
    assert [len(f["updates"]) for f in updates(peers[5])] == [1] * 5


def test_with_a_fanout_budget_a_busy_room_waits_only_while_its_broadcasts_exceed_it() -> None:
    # Window 10 ms, 6 peers, 1,200 frames a second: a commit waits only while updates come
    # more often than every 5 ms (200 a second, 6 frames each).
    session: RoomSession[Peer] = RoomSession(
        INFO, Authority("", 0), max_peers=50, output_cap=8, limits=LIMITS,
        cadence=Cadence(0.010, busy_authors=3, fanout=1200, smoothing=0.5))
    peers = join(session, 6)
    observer = peers[5]

    def commit_at(now: float, peer: Peer) -> float:
        session.committed(push(session, peer), now)
        return session.publish_delay(now)

    # One update every 10 ms (100 per second): busy, but a window would hold ~1 update.
    for i in range(5):
        assert commit_at(1.0 + 0.010 * i, peers[i % 5]) == 0
        deliver(session.publish(1.0 + 0.010 * i))
    assert session.busy
    assert session.update_gap == pytest.approx(0.010)
    # The rate climbs to one update every 2 ms: the average crosses 5 ms and commits wait.
    delays = []
    for i in range(1, 9):
        now = 1.04 + 0.002 * i
        delays.append(commit_at(now, peers[i % 5]))
        if delays[-1] == 0:
            deliver(session.publish(now))
    assert session.update_gap < 0.005
    assert delays[0] == 0
    assert delays[-1] > 0
    # A quiet spell (one commit 200 ms later) lifts the average again: published at once.
    assert commit_at(1.256, peers[0]) == 0
    deliver(session.publish(1.256))
    assert session.settled
    # Every committed update went out, in order, once; the held ones in shared frames.
    sent = [u["clientId"] for f in updates(observer) for u in f["updates"]]
    assert len(sent) == session.version == 14
    assert any(len(f["updates"]) > 1 for f in updates(observer))


def test_the_same_update_rate_waits_in_a_room_with_more_peers() -> None:
    # 125 updates a second: 6 peers make 750 frames a second, 13 make 1,625, over the budget.
    delays = []
    for count in (6, 13):
        session: RoomSession[Peer] = RoomSession(
            INFO, Authority("", 0), max_peers=50, output_cap=8, limits=LIMITS,
            cadence=Cadence(0.010, busy_authors=3, fanout=1200, smoothing=1.0))
        peers = join(session, count)
        for i in range(6):
            now = 1.0 + 0.008 * i
            session.committed(push(session, peers[i % 5]), now)
            delays.append(session.publish_delay(now))
            deliver(session.publish(now))
        assert session.busy
        assert session.update_gap == pytest.approx(0.008)
    assert delays[5] == 0
    assert delays[11] == pytest.approx(0.002)  # the rest of the window since the last publish


def test_a_group_commit_counts_each_of_its_updates_in_the_rate() -> None:
    session: RoomSession[Peer] = RoomSession(
        INFO, Authority("", 0), max_peers=50, output_cap=8, limits=LIMITS,
        cadence=Cadence(0.010, busy_authors=1, fanout=1200, smoothing=1.0))
    peers = join(session, 4)
    session.committed(push(session, peers[0]), 1.0)
    assert session.update_gap == float("inf")  # no gap seen yet: never waits
    assert session.publish_delay(1.0) == 0
    for peer in peers[1:]:
        push(session, peer)
    session.committed(session.authority.version, 1.009)  # 3 updates in one commit: 3 ms each
    assert session.update_gap == pytest.approx(0.003)
    session.committed(session.authority.version, 2.0)  # nothing new: no sample
    assert session.update_gap == pytest.approx(0.003)
