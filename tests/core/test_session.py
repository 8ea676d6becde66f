"""`editor_core.session`: the room protocol without sockets.

Unit tests pin each decision; the state machine at the end drives a session with random event
sequences (joins, replacements, leaves, edits, pushes, commits in store order, publishes, pulls,
cursors, runs) through `tests.collab_client` clients and checks docs/protocol.md "The
guarantees" as laws after every step and at quiescence.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from editor_core.authority import Authority
from editor_core.changeset import ChangeSet
from editor_core.close_codes import CloseCode
from editor_core.errors import (
    Busy,
    ClientIdInUse,
    HistoryGone,
    InvalidMessage,
    InvalidVersion,
    PairpadError,
    ReadOnly,
    RoomFull,
    RoomLocked,
    UnknownRun,
)
from editor_core.session import (
    Close,
    Effect,
    Persist,
    Reply,
    RoomInfo,
    RoomSession,
    SaveRun,
    ScheduleDiagnostics,
    Send,
    StartRun,
    StopRun,
)
from tests.collab_client import CollabClient
from tests.core.random_changes import random_change

INFO = RoomInfo("room1", "Demo", "python", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
LIMITS = {"maxDocumentLength": 1000}


@dataclass(eq=False)
class Peer:
    """A connection as the session sees it: an opaque handle; here it records what it got."""

    client_id: str
    frames: list[dict[str, Any]] = field(default_factory=list)
    errors: list[PairpadError] = field(default_factory=list)
    closed: CloseCode | None = None


def make(text: str = "hello", *, max_peers: int = 10, keep: int = 10_000,
         output_cap: int = 8, max_stdin_bytes: int = 100) -> RoomSession[Peer]:
    return RoomSession(INFO, Authority(text, 0, keep_updates=keep), max_peers=max_peers,
                       output_cap=output_cap, limits=LIMITS, max_stdin_bytes=max_stdin_bytes)


def deliver(effects: list[Effect[Peer]]) -> list[Effect[Peer]]:
    """Hand `Send`, `Reply` and `Close` to the peers; return the other effects but
    `ScheduleDiagnostics` (its tests look at the effects themselves)."""
    rest: list[Effect[Peer]] = []
    for effect in effects:
        if isinstance(effect, ScheduleDiagnostics):
            continue
        if isinstance(effect, Send):
            for peer in effect.to:
                peer.frames.append(effect.frame)
        elif isinstance(effect, Reply):
            effect.to.errors.append(effect.error)
        elif isinstance(effect, Close):
            effect.peer.closed = effect.code
        else:
            rest.append(effect)
    return rest


def insert(length: int, pos: int, text: str) -> list[Any]:
    return ChangeSet.replace(length, pos, pos, text).to_json()


def push(session: RoomSession[Peer], peer: Peer, version: int,
         *changes: list[Any]) -> list[Effect[Peer]]:
    return deliver(session.push(peer, peer.client_id, version,
                                [ChangeSet.from_json(c) for c in changes], "now"))


def commit_all(session: RoomSession[Peer], persists: list[Effect[Peer]]) -> None:
    for effect in persists:
        assert isinstance(effect, Persist)
        session.committed(effect.base_version + len(effect.updates))
    deliver(session.publish())


def joined(session: RoomSession[Peer], client_id: str) -> Peer:
    peer = Peer(client_id)
    assert deliver(session.join(peer, client_id, client_id.upper())) == []
    return peer


# -- diagnostics (docs/protocol.md `diagnostics`) ---------------------------------------------


def _scheduled(effects: list[Effect[Peer]]) -> list[int]:
    return [e.version for e in effects if isinstance(e, ScheduleDiagnostics)]


def test_each_publish_schedules_the_analysis_of_the_published_version() -> None:
    session = make()
    ada = Peer("ada")
    assert _scheduled(session.join(ada, "ada", "Ada")) == [0]  # nothing analysed yet
    persists = push(session, ada, 0, insert(5, 5, "!"))
    assert _scheduled(persists) == []  # not published yet
    for effect in persists:
        assert isinstance(effect, Persist)
        session.committed(effect.base_version + len(effect.updates))
    assert _scheduled(session.publish()) == [1]
    assert _scheduled(session.publish()) == []  # nothing new


def test_diagnostics_reach_every_peer_once_per_version_and_late_joiners_after_init() -> None:
    session = make()
    ada, bob = joined(session, "ada"), joined(session, "bob")
    items = [{"from": 0, "to": 5, "severity": "error", "message": "m", "source": "pyflakes"}]
    deliver(session.diagnosed(0, items))
    deliver(session.diagnosed(0, items))  # the same version again: not sent twice
    frame = {"type": "diagnostics", "version": 0, "items": items}
    assert [f for f in ada.frames if f["type"] == "diagnostics"] == [frame]
    assert [f for f in bob.frames if f["type"] == "diagnostics"] == [frame]
    carl = Peer("carl")
    effects = session.join(carl, "carl", "Carl")
    assert _scheduled(effects) == []  # the current version is analysed: no new analysis
    deliver(effects)
    assert [f["type"] for f in carl.frames] == ["init", "diagnostics"]
    assert carl.frames[1] == frame


def test_diagnostics_of_a_superseded_version_are_dropped() -> None:
    session = make()
    ada = joined(session, "ada")
    commit_all(session, push(session, ada, 0, insert(5, 5, "!")))
    assert deliver(session.diagnosed(0, [])) == []
    assert [f for f in ada.frames if f["type"] == "diagnostics"] == []
    deliver(session.diagnosed(1, []))
    assert ada.frames[-1] == {"type": "diagnostics", "version": 1, "items": []}
    late = Peer("late")
    commit_all(session, push(session, ada, 1, insert(6, 6, "?")))
    assert deliver(session.diagnosed(0, [], overdue=True)) == []  # older than what was sent
    effects = session.join(late, "late", "Late")
    assert _scheduled(effects) == [2]  # what it would get is for version 1: analyse 2
    deliver(effects)
    assert [f["type"] for f in late.frames] == ["init"]


def test_overdue_diagnostics_go_out_a_little_behind_while_edits_never_settle() -> None:
    session = make()
    ada = joined(session, "ada")
    for version in range(3):
        commit_all(session, push(session, ada, version, insert(5 + version, 0, "x")))
    items = [{"from": 0, "to": 1, "severity": "warning", "message": "m", "source": "pyflakes"}]
    assert deliver(session.diagnosed(1, items)) == []  # behind, not overdue: dropped
    deliver(session.diagnosed(1, items, overdue=True))
    assert ada.frames[-1] == {"type": "diagnostics", "version": 1, "items": items}
    assert deliver(session.diagnosed(1, items, overdue=True)) == []  # once per version
    assert deliver(session.diagnosed(4, items, overdue=True)) == []  # not published yet
    late = Peer("late")
    assert [type(e).__name__ for e in session.join(late, "late", "Late")][-1] == (
        "ScheduleDiagnostics")  # a joiner gets only diagnostics of the current version


# -- joining and leaving ---------------------------------------------------------------------


def test_a_viewer_gets_init_without_the_room_id_and_is_listed_as_a_viewer() -> None:
    session = make()
    ada = joined(session, "ada")
    val = Peer("val")
    assert deliver(session.join(val, "val", "Val", "link1")) == []
    init = val.frames[0]
    assert "roomId" not in init
    assert init["role"] == "viewer"
    assert ada.frames[0]["roomId"] == "room1"
    assert ada.frames[0]["role"] == "editor"
    assert [(p["clientId"], p["role"]) for p in init["participants"]] == [
        ("ada", "editor"), ("val", "viewer")]
    assert ada.frames[1]["participant"]["role"] == "viewer"
    assert session.is_viewer("val")
    assert not session.is_viewer("ada")


def test_a_viewer_changes_nothing_and_sees_everything() -> None:
    session = make()
    ada = joined(session, "ada")
    val = Peer("val")
    deliver(session.join(val, "val", "Val", "link1"))
    with pytest.raises(ReadOnly):
        session.push(val, "val", 0, [ChangeSet.from_json(insert(5, 0, "x"))], "now")
    with pytest.raises(ReadOnly):
        session.start_run("val", "Val", "", "r1", "now", queue_full=False)
    deliver(session.start_run("ada", "Ada", "", "r1", "now", queue_full=False))
    with pytest.raises(ReadOnly):
        session.stop_run("r1", "Val", "val")
    assert (session.authority.version, session.run is not None) == (0, True)
    assert val.frames[-1]["type"] == "execution_lock"
    commit_all(session, push(session, ada, 0, insert(5, 0, "x")))
    assert val.frames[-1]["type"] == "code_update"
    assert session.text == "xhello"


def test_revoking_a_link_closes_its_viewers_only() -> None:
    session = make()
    ada = joined(session, "ada")
    v1, v2, w = Peer("v1"), Peer("v2"), Peer("w")
    deliver(session.join(v1, "v1", "V1", "link1"))
    deliver(session.join(v2, "v2", "V2", "link1"))
    deliver(session.join(w, "w", "W", "link2"))
    deliver(session.revoke("link1"))
    assert (v1.closed, v2.closed, w.closed, ada.closed) == (CloseCode.REVOKED,
                                                           CloseCode.REVOKED, None, None)
    assert session.revoke("unknown") == []


def test_a_viewer_cannot_replace_an_editor_but_an_editor_replaces_a_viewer() -> None:
    session = make()
    ada = joined(session, "ada")
    with pytest.raises(ClientIdInUse):
        session.join(Peer("ada"), "ada", "Mallory", "link1")
    assert session.peers["ada"] is ada
    assert ada.closed is None
    viewer = Peer("sam")
    deliver(session.join(viewer, "sam", "Sam", "link1"))
    editor = Peer("sam")
    deliver(session.join(editor, "sam", "Sam"))
    assert viewer.closed == CloseCode.REPLACED
    assert not session.is_viewer("sam")
    assert ada.frames[-1]["participant"]["role"] == "editor"  # told of the new role
    deliver(session.revoke("link1"))
    assert editor.closed is None


def test_join_sends_init_to_the_joiner_and_joined_to_the_others() -> None:
    session = make()
    ada = joined(session, "ada")
    bob = joined(session, "bob")
    assert bob.frames[0]["type"] == "init"
    assert bob.frames[0]["code"] == "hello"
    assert bob.frames[0]["version"] == 0
    assert [p["clientId"] for p in bob.frames[0]["participants"]] == ["ada", "bob"]
    assert bob.frames[0]["limits"] == LIMITS
    assert ada.frames[1] == {"type": "participant_joined",
                             "participant": bob.frames[0]["participants"][1]}
    assert len(bob.frames) == 1


def test_a_second_connection_replaces_the_first_without_a_leave() -> None:
    session = make()
    ada = joined(session, "ada")
    old = joined(session, "bob")
    new = joined(session, "bob")
    assert old.closed == CloseCode.REPLACED
    assert [f["type"] for f in ada.frames] == ["init", "participant_joined"]
    assert deliver(session.leave(old, "bob")) == []  # the replaced one leaves no trace
    assert session.peers == {"ada": ada, "bob": new}
    deliver(session.leave(new, "bob"))
    assert ada.frames[-1] == {"type": "participant_left", "clientId": "bob"}
    assert [p.client_id for p in session.presence.participants()] == ["ada"]


def test_a_full_room_refuses_a_new_client_but_not_a_replacement() -> None:
    session = make(max_peers=1)
    joined(session, "ada")
    with pytest.raises(RoomFull):
        session.join(Peer("bob"), "bob", "Bob")
    joined(session, "ada")
    assert list(session.peers) == ["ada"]


# -- edits: nothing before it is durable -----------------------------------------------------


def test_a_push_is_persisted_at_once_and_published_only_after_its_commit() -> None:
    session = make()
    ada, bob = joined(session, "ada"), joined(session, "bob")
    sent = len(bob.frames)
    [persist] = push(session, ada, 0, insert(5, 5, "!"))
    assert isinstance(persist, Persist)
    assert (persist.base_version, persist.text, persist.length) == (0, "hello!", 6)
    assert deliver(session.publish()) == []
    assert len(bob.frames) == sent
    assert (session.version, session.text) == (0, "hello")
    assert session.state()["code"] == "hello"
    session.committed(1)
    deliver(session.publish())
    assert bob.frames[-1] == {"type": "code_update", "version": 0, "updates": [
        {"clientId": "ada", "changes": insert(5, 5, "!")}]}
    assert ada.frames[-1] == bob.frames[-1]  # the pusher's confirmation is the broadcast
    assert (session.version, session.text, session.length) == (1, "hello!", 6)
    assert session.settled


def test_pushes_committed_together_go_out_as_one_frame() -> None:
    session = make("")
    ada, bob = joined(session, "ada"), joined(session, "bob")
    persists = push(session, ada, 0, insert(0, 0, "a"))
    persists += push(session, bob, 0, insert(0, 0, "b"))
    commit_all(session, persists)
    updates = [f for f in bob.frames if f["type"] == "code_update"]
    assert len(updates) == 1
    assert len(updates[0]["updates"]) == 2
    assert session.text == session.authority.text


def test_a_push_of_nothing_new_is_answered_once_its_updates_are_published() -> None:
    session = make("")
    ada = joined(session, "ada")
    change = insert(0, 0, "a")
    persists = push(session, ada, 0, change)
    assert push(session, ada, 0, change) == []  # a resend while the first is in flight
    assert ada.frames[-1]["type"] == "init"
    commit_all(session, persists)
    assert [f["type"] for f in ada.frames] == ["init", "code_update", "code_update"]
    assert ada.frames[-1] == ada.frames[-2]
    assert push(session, ada, 0, change) == []  # now published: answered at once
    assert ada.frames[-1] == ada.frames[-2]


def test_a_waiting_answer_whose_history_is_gone_is_an_error() -> None:
    session = make("", keep=1)
    ada = joined(session, "ada")
    persists = push(session, ada, 0, insert(0, 0, "a"))
    push(session, ada, 0, insert(0, 0, "a"))
    persists += push(session, ada, 1, insert(1, 1, "b"))  # trims version 0 away
    commit_all(session, persists)
    assert [type(e) for e in ada.errors] == [HistoryGone]


def test_pull_sends_only_published_updates_and_checks_the_version() -> None:
    session = make("")
    ada = joined(session, "ada")
    push(session, ada, 0, insert(0, 0, "a"))  # accepted, not yet committed
    deliver(session.pull(ada, 0))
    assert ada.frames[-1] == {"type": "code_update", "version": 0, "updates": []}
    with pytest.raises(InvalidVersion):
        session.pull(ada, 2)


def test_a_failed_room_closes_everyone_with_1011_and_publishes_nothing() -> None:
    session = make("")
    ada = joined(session, "ada")
    push(session, ada, 0, insert(0, 0, "a"))
    deliver(session.fail())
    assert ada.closed == CloseCode.INTERNAL_ERROR
    assert session.failed
    session.committed(1)
    assert session.publish() == []
    assert session.fail() == []


def test_unloadable_only_when_nothing_is_in_flight() -> None:
    session = make("")
    ada = joined(session, "ada")
    persists = push(session, ada, 0, insert(0, 0, "a"))
    deliver(session.leave(ada, "ada"))
    assert not session.unloadable
    commit_all(session, persists)
    assert session.unloadable


# -- cursors ---------------------------------------------------------------------------------


def test_a_cursor_is_mapped_to_the_published_version_and_sent_to_the_others() -> None:
    session = make("abc")
    ada, bob = joined(session, "ada"), joined(session, "bob")
    commit_all(session, push(session, bob, 0, insert(3, 0, "xy")))
    deliver(session.cursor("ada", 0, 1, 3))
    assert bob.frames[-1] == {"type": "cursor", "clientId": "ada", "version": 1,
                              "anchor": 3, "head": 5}
    assert ada.frames[-1]["type"] == "code_update"  # not echoed
    commit_all(session, push(session, bob, 1, insert(5, 0, "z")))
    [ada_wire, _] = session.participants()
    assert ada_wire["cursor"] == {"anchor": 4, "head": 6}


def test_a_cursor_at_an_unpublished_version_or_outside_the_document_is_refused() -> None:
    session = make("abc")
    ada = joined(session, "ada")
    push(session, ada, 0, insert(3, 0, "x"))  # version 1 exists, not yet published
    with pytest.raises(InvalidMessage):
        session.cursor("ada", 1, 0, 0)
    with pytest.raises(InvalidVersion):
        session.cursor("ada", 2, 0, 0)
    with pytest.raises(InvalidMessage):
        session.cursor("ada", 0, 4, 0)


def test_a_cursor_whose_history_is_gone_is_shown_as_none() -> None:
    session = make("abc", keep=1)
    ada = joined(session, "ada")
    deliver(session.cursor("ada", 0, 1, 1))
    commit_all(session, push(session, ada, 0, insert(3, 0, "x")))
    commit_all(session, push(session, ada, 1, insert(4, 0, "y")))
    assert session.participants()[0]["cursor"] is None


# -- runs ------------------------------------------------------------------------------------


def test_a_run_locks_the_room_streams_output_and_releases_after_it_is_saved() -> None:
    session = make("print(1)", output_cap=4)
    ada, bob = joined(session, "ada"), joined(session, "bob")
    [start] = deliver(session.start_run("ada", "Ada", "in", "r1", "t0", queue_full=False))
    assert start == StartRun("r1", "print(1)", "in", "ada", 0)
    assert bob.frames[-1] == {"type": "execution_lock", "runId": "r1", "clientId": "ada",
                              "name": "Ada", "version": 0, "since": "t0"}
    with pytest.raises(RoomLocked) as locked:
        session.start_run("bob", "Bob", "", "r2", "t1", queue_full=False)
    assert locked.value.fields["lock"]["runId"] == "r1"
    deliver(session.run_output("r1", "stdout", "abc"))
    deliver(session.run_output("r1", "stdout", "def"))
    assert bob.frames[-1] == {"type": "execution_output", "runId": "r1", "stream": "stdout",
                              "data": "def"}
    late = joined(session, "cy")
    assert late.frames[0]["lock"]["output"] == "abcd"  # kept up to the cap, all sent
    [save] = deliver(session.run_finished("r1", {"status": "ok"}, "t2"))
    assert isinstance(save, SaveRun)
    assert save.result["finishedAt"] == "t2"
    with pytest.raises(UnknownRun):
        session.stop_run("r1", "Bob", "bob")  # finished: nothing left to stop
    assert session.run is not None  # still locked until stored
    deliver(session.run_saved("r1"))
    assert session.run is None
    assert session.last_run == save.result
    assert ada.frames[-1] == {"type": "execution_result", "status": "ok", "runId": "r1",
                              "version": 0, "clientId": "ada", "name": "Ada",
                              "startedAt": "t0", "finishedAt": "t2", "stoppedBy": None}
    assert session.run_saved("r1") == []
    assert session.run_output("r1", "stdout", "x") == []


def test_stop_and_a_full_queue() -> None:
    session = make()
    joined(session, "ada")
    with pytest.raises(Busy):
        session.start_run("ada", "Ada", "", "r1", "t0", queue_full=True)
    assert session.run is None
    deliver(session.start_run("ada", "Ada", "", "r1", "t0", queue_full=False))
    assert session.stop_run("r1", "Ada", "ada") == [StopRun("r1")]
    with pytest.raises(UnknownRun):
        session.stop_run("other", "Ada", "ada")


def test_the_first_accepted_stop_is_the_one_everyone_is_told_of() -> None:
    session = make()
    ada, bob = joined(session, "ada"), joined(session, "bob")
    deliver(session.start_run("ada", "Ada", "", "r1", "t0", queue_full=False))
    with pytest.raises(UnknownRun):
        session.stop_run("r0", "Ada", "ada")  # refused: names no one
    assert session.stop_run("r1", "Bob", "bob") == [StopRun("r1")]
    # Ada asks again; Bob stays the stopper.
    assert session.stop_run("r1", "Ada", "ada") == [StopRun("r1")]
    [save] = deliver(session.run_finished("r1", {"status": "stopped"}, "t1"))
    assert isinstance(save, SaveRun)
    deliver(session.run_saved("r1"))
    for peer in (ada, bob):
        assert peer.frames[-1]["stoppedBy"] == "Bob"
        assert peer.frames[-1]["startedAt"] == "t0"
    assert session.last_run == save.result
    assert session.state()["lastRun"]["stoppedBy"] == "Bob"


def test_a_stop_that_came_as_the_run_finished_names_no_one() -> None:
    session = make()
    joined(session, "ada")
    deliver(session.start_run("ada", "Ada", "", "r1", "t0", queue_full=False))
    deliver(session.stop_run("r1", "Bob", "bob"))
    [save] = deliver(session.run_finished("r1", {"status": "ok"}, "t1"))
    assert isinstance(save, SaveRun)
    assert save.result["stoppedBy"] is None
    # The next run starts with no stopper.
    deliver(session.run_saved("r1"))
    deliver(session.start_run("ada", "Ada", "", "r2", "t2", queue_full=False))
    [save] = deliver(session.run_finished("r2", {"status": "stopped"}, "t3"))
    assert isinstance(save, SaveRun)
    assert save.result["stoppedBy"] is None  # stopped by the server (shutdown), not a person


def test_stdin_over_its_limit_is_refused_before_the_lock_is_taken() -> None:
    session = make(max_stdin_bytes=4)
    joined(session, "ada")
    with pytest.raises(InvalidMessage) as refused:
        session.start_run("ada", "Ada", "é\n12", "r1", "t0", queue_full=False)  # 5 bytes
    assert refused.value.message == "stdin is 5 bytes; at most 4 are allowed"
    assert refused.value.fields["details"][0]["loc"] == ["stdin"]
    assert session.run is None
    [start] = deliver(session.start_run("ada", "Ada", "é\n1", "r1", "t0", queue_full=False))
    assert isinstance(start, StartRun)
    assert start.stdin == "é\n1"


# -- the laws, over random event sequences ---------------------------------------------------

CLIENTS = ("a", "b", "c")
VIEWER = "v"


class SessionMachine(RuleBasedStateMachine):
    """Clients are `CollabClient`s behind `Peer`s; the store commits in order when told."""

    @initialize()
    def setup(self) -> None:
        # Room for the three editors and the viewer; a fifth would be refused.
        self.session = make("ab😀\n", max_peers=4, keep=10_000)
        self.clients: dict[str, CollabClient] = {}
        self.inbox: dict[str, Peer] = {}
        self.persists: list[Persist] = []
        self.committed = 0
        self.seen: dict[str, int] = {}  # client id → versions received by broadcast
        self.run_seq = 0
        # A viewer of a read-only link (docs/protocol.md "Read-only links"): it follows the
        # room and every push of its is refused without a trace.
        self.viewer: Peer | None = None
        self.viewer_client: CollabClient | None = None

    # every effect goes through here, so the laws about sends are checked on each one
    def perform(self, effects: list[Effect[Peer]]) -> None:
        for effect in effects:
            if isinstance(effect, Send) and effect.frame["type"] == "code_update":
                frame = effect.frame
                # Guarantee 2: nothing is sent before it is durable.
                assert frame["version"] + len(frame["updates"]) <= self.committed
            if isinstance(effect, Persist):
                assert effect.base_version == self.committed + sum(
                    len(p.updates) for p in self.persists)
                self.persists.append(effect)
            elif isinstance(effect, SaveRun | StartRun | StopRun):
                pass
            else:
                deliver([effect])

    @rule(client=st.sampled_from(CLIENTS))
    def join(self, client: str) -> None:
        """A new editor, or one that reconnects (a second connection replaces the first):
        like the web editor, it keeps its document and pulls what it missed."""
        peer = Peer(client)
        try:
            self.perform(self.session.join(peer, client, client))
        except RoomFull:
            assert len(self.session.peers) == 4
            assert client not in self.session.peers
            return
        init = peer.frames.pop(0)
        self.inbox[client] = peer
        if client in self.clients:
            self.perform(self.session.pull(peer, self.clients[client].version))
        else:
            self.clients[client] = CollabClient(client, init["code"], init["version"])

    @precondition(lambda self: self.inbox)
    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        client = data.draw(st.sampled_from(sorted(self.inbox)))
        self.perform(self.session.leave(self.inbox.pop(client), client))

    @precondition(lambda self: self.clients)
    @rule(data=st.data())
    def edit(self, data: st.DataObject) -> None:
        client = self.clients[data.draw(st.sampled_from(sorted(self.clients)))]
        client.local_change(random_change(lambda lo, hi: data.draw(st.integers(lo, hi)),
                                          client.doc))

    @precondition(lambda self: self.inbox)
    @rule(data=st.data())
    def push(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.inbox)))
        version, changes = self.clients[name].pending_push()
        self.perform(self.session.push(self.inbox[name], name, version,
                                       [ChangeSet.from_json(c) for c in changes], "now"))

    @precondition(lambda self: self.persists)
    @rule()
    def commit(self) -> None:
        persist = self.persists.pop(0)
        self.committed = persist.base_version + len(persist.updates)
        self.session.committed(self.committed)

    @rule()
    def publish(self) -> None:
        self.perform(self.session.publish())

    @precondition(lambda self: self.inbox)
    @rule(data=st.data())
    def receive(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.inbox)))
        self._receive(name)

    def _receive(self, name: str) -> None:
        peer, client = self.inbox[name], self.clients[name]
        frames, peer.frames = peer.frames, []
        assert peer.errors == []
        assert peer.closed is None
        for frame in frames:
            if frame["type"] == "code_update" and not client.receive(frame["version"],
                                                                     frame["updates"]):
                self.perform(self.session.pull(peer, client.version))

    @precondition(lambda self: self.inbox)
    @rule(data=st.data())
    def cursor(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.inbox)))
        # A cursor at the client's synced version; it may fall outside that document.
        at = data.draw(st.integers(0, 6))
        with contextlib.suppress(InvalidMessage):  # outside that document: refused
            self.perform(self.session.cursor(name, self.clients[name].version, at, at))

    @precondition(lambda self: self.inbox)
    @rule(data=st.data())
    def run(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.inbox)))
        session = self.session
        if session.run is None:
            self.run_seq += 1
            self.perform(session.start_run(name, name, "", f"r{self.run_seq}", "t",
                                           queue_full=False))
            return
        run_id = session.run.run_id
        if session.run.result is None:
            with pytest.raises(RoomLocked):
                session.start_run(name, name, "", "other", "t", queue_full=False)
            self.perform(session.run_output(run_id, "stdout", "x"))
            self.perform(session.run_finished(run_id, {"status": "ok"}, "t"))
        else:
            self.perform(session.run_saved(run_id))
            assert session.run is None
            assert session.last_run is not None

    @rule()
    def view(self) -> None:
        """The viewer joins (again: a reconnect), through link "l1"."""
        peer = Peer(VIEWER)
        try:
            self.perform(self.session.join(peer, VIEWER, "Viewer", "l1"))
        except RoomFull:
            assert len(self.session.peers) == 4
            return
        init = peer.frames.pop(0)
        assert "roomId" not in init
        self.viewer = peer
        if self.viewer_client is None:
            self.viewer_client = CollabClient(VIEWER, init["code"], init["version"])
        else:
            self.perform(self.session.pull(peer, self.viewer_client.version))

    @precondition(lambda self: self.viewer is not None)
    @rule(data=st.data())
    def viewer_pushes(self, data: st.DataObject) -> None:
        """Refused whatever it holds: nothing accepted, nothing persisted, nothing sent."""
        peer, client = self.viewer, self.viewer_client
        assert peer is not None
        assert client is not None
        at = data.draw(st.integers(0, len(client.doc)))
        change = ChangeSet.replace(len(client.doc.encode("utf-16-le")) // 2, 0, 0, "v")
        before = (self.session.authority.version, self.session.authority.text)
        with pytest.raises(ReadOnly):
            self.session.push(peer, VIEWER, client.version, [change], "now")
        with pytest.raises(ReadOnly):
            self.session.start_run(VIEWER, "Viewer", "", f"v{at}", "t", queue_full=False)
        assert (self.session.authority.version, self.session.authority.text) == before

    @precondition(lambda self: self.viewer is not None)
    @rule()
    def viewer_receives(self) -> None:
        self._viewer_receive()

    def _viewer_receive(self) -> None:
        peer, client = self.viewer, self.viewer_client
        assert peer is not None
        assert client is not None
        frames, peer.frames = peer.frames, []
        assert peer.errors == []
        for frame in frames:
            assert "roomId" not in frame
            if frame["type"] == "code_update" and not client.receive(frame["version"],
                                                                     frame["updates"]):
                self.perform(self.session.pull(peer, client.version))

    @precondition(lambda self: self.viewer is not None)
    @rule()
    def revoke(self) -> None:
        peer = self.viewer
        assert peer is not None
        self.perform(self.session.revoke("l1"))
        assert peer.closed == CloseCode.REVOKED
        assert all(p.closed is None for p in self.inbox.values())
        self.perform(self.session.leave(peer, VIEWER))
        self.viewer = None

    @invariant()
    def presence_is_the_peers(self) -> None:
        if hasattr(self, "session"):
            assert [p.client_id for p in self.session.presence.participants()] == list(
                self.session.peers)
            viewers = {VIEWER} if self.viewer is not None else set()
            assert set(self.session.peers) == set(self.inbox) | viewers
            assert all(p["role"] == ("viewer" if p["clientId"] == VIEWER else "editor")
                       for p in self.session.participants())
            for wire in self.session.participants():
                cursor = wire["cursor"]
                if cursor is not None:
                    assert 0 <= cursor["anchor"] <= self.session.length

    def teardown(self) -> None:
        """Quiescence: push, commit, publish and deliver until nothing moves; then every
        client holds the room's document at its version (guarantee 1, exactly once)."""
        if not hasattr(self, "session"):
            return
        for name in sorted(set(self.clients) - set(self.inbox)):
            self.join(name)  # everyone comes back
        for _ in range(6):
            for name in sorted(self.clients):
                if self.clients[name].unconfirmed:
                    self.push_for(name)
            while self.persists:
                self.commit()
            self.publish()
            for name in sorted(self.inbox):
                self._receive(name)
            if self.viewer is not None:
                self._viewer_receive()
        session = self.session
        assert session.settled
        assert session.text == session.authority.text
        for client in self.clients.values():
            assert client.unconfirmed == []
            assert (client.doc, client.version) == (session.text, session.version)
        if self.viewer is not None and self.viewer_client is not None:
            assert (self.viewer_client.doc, self.viewer_client.version) == (session.text,
                                                                             session.version)

    def push_for(self, name: str) -> None:
        version, changes = self.clients[name].pending_push()
        self.perform(self.session.push(self.inbox[name], name, version,
                                       [ChangeSet.from_json(c) for c in changes], "now"))


SessionMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40,
                                            deadline=None)
test_session_laws = SessionMachine.TestCase
