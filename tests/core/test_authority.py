"""`editor_core.authority`: the push rule of docs/architecture.md "The room authority", and
convergence.

The unit tests pin each clause of the rule; the simulation at the end checks guarantee 1
(convergence, exactly once) with `tests.collab_client` clients over a lossy, reordering-free
but delaying network with reconnects.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from editor_core.authority import (
    Authority,
    PushOutcome,
    Update,
    rebase_stepwise,
    rebase_updates,
)
from editor_core.changeset import ChangeSet
from editor_core.errors import HistoryGone, InvalidMessage, InvalidUpdate, InvalidVersion, TooLarge
from editor_core.positions import utf16_length
from tests.collab_client import CollabClient
from tests.core.random_changes import random_change, random_text, rng_pick


def insert(length: int, pos: int, text: str) -> ChangeSet:
    return ChangeSet.replace(length, pos, pos, text)


def texts(updates: list[Update]) -> list[tuple[str, object]]:
    return [(u.client_id, u.changes.to_json()) for u in updates]


# -- the rule, clause by clause --------------------------------------------------------------


def test_push_at_the_current_version_is_applied_as_is() -> None:
    room = Authority("hello", 0)
    change = ChangeSet.replace(5, 5, 5, " world")
    outcome = room.push("a", 0, [change])
    assert outcome == PushOutcome([Update("a", change)], 0)
    assert (room.text, room.version, room.length) == ("hello world", 1, 11)
    outcome = room.push("b", 1, [ChangeSet.replace(11, 0, 1, "H"), insert(11, 11, "!")])
    assert outcome.base_version == 1
    assert len(outcome.accepted) == 2
    assert (room.text, room.version) == ("Hello world!", 3)


def test_version_counts_accepted_updates_even_empty_ones() -> None:
    room = Authority("ab", 7)
    room.push("a", 7, [ChangeSet.empty_of(2), insert(2, 1, "-")])
    assert room.version == 9
    assert room.text == "a-b"


def test_stale_push_is_rebased_over_what_came_since() -> None:
    room = Authority("xy", 0)
    room.push("a", 0, [insert(2, 1, "A")])
    outcome = room.push("b", 0, [insert(2, 1, "B"), insert(3, 3, "!")])
    # rebaseUpdates maps the pushed changes after the accepted ones: B lands after A.
    assert room.text == "xABy!"
    assert texts(outcome.accepted) == [("b", [2, [0, "B"], 1]), ("b", [4, [0, "!"]])]
    assert outcome.base_version == 1
    assert room.pull(1) == outcome.accepted


def test_resent_updates_are_skipped() -> None:
    room = Authority("", 0)
    first = insert(0, 0, "a")
    second = insert(1, 1, "b")
    room.push("me", 0, [first])
    room.push("other", 1, [insert(1, 0, "X")])
    # A reconnect: "me" resends everything unconfirmed from its synced version 0.
    outcome = room.push("me", 0, [first, second])
    assert texts(outcome.accepted) == [("me", [2, [0, "b"]])]
    assert room.text == "Xab"
    # Resending again adds nothing: the pusher is answered with pull(0).
    again = room.push("me", 0, [first, second])
    assert again == PushOutcome([], 3)
    assert room.version == 3
    assert [u.client_id for u in room.pull(0)] == ["me", "other", "me"]


def test_another_clients_identical_change_is_not_skipped() -> None:
    room = Authority("", 0)
    room.push("a", 0, [insert(0, 0, "x")])
    room.push("b", 0, [insert(0, 0, "x")])
    assert room.text == "xx"


def test_push_above_the_room_version_is_refused() -> None:
    room = Authority("ab", 3)
    with pytest.raises(InvalidVersion):
        room.push("a", 4, [insert(2, 0, "x")])
    with pytest.raises(InvalidVersion):
        room.pull(4)


def test_push_older_than_the_history_is_refused() -> None:
    room = Authority("", 0, keep_updates=2)
    for i in range(5):
        room.push("a", i, [insert(i, i, "x")])
    assert (room.version, room.oldest_version) == (5, 3)
    with pytest.raises(HistoryGone):
        room.push("b", 2, [insert(2, 0, "y")])
    with pytest.raises(HistoryGone):
        room.pull(2)
    assert len(room.pull(3)) == 2
    room.push("b", 3, [insert(3, 0, "y")])
    assert room.text == "yxxxxx"


@pytest.mark.parametrize(
    "changes",
    [
        [ChangeSet.from_json([3])],  # wrong length for the document at version 0
        [insert(2, 0, "x"), insert(2, 0, "y")],  # the second ignores the first
        [insert(2, 2, "x"), ChangeSet.from_json([1, [0, "!"], 2])],  # splits 😀
    ],
)
def test_a_change_that_does_not_fit_applies_nothing(changes: list[ChangeSet]) -> None:
    room = Authority("😀", 0)
    with pytest.raises(InvalidUpdate):
        room.push("a", 0, changes)
    assert (room.text, room.version, room.pull(0)) == ("😀", 0, [])


def test_a_stale_push_is_checked_against_the_document_at_its_version() -> None:
    room = Authority("ab", 0)
    room.push("a", 0, [insert(2, 2, "cd")])
    room.push("b", 0, [insert(2, 0, "<")])  # length 2 at version 0: fine
    with pytest.raises(InvalidUpdate):
        room.push("b", 0, [insert(4, 0, "<")])  # length of the current document: wrong
    assert room.text == "<abcd"


def test_too_large_applies_nothing_but_shrinking_is_allowed() -> None:
    room = Authority("abc", 0, max_length=4)
    room.push("a", 0, [insert(3, 3, "d")])
    with pytest.raises(TooLarge):
        room.push("a", 1, [insert(4, 4, "e")])
    # Two units at once: an emoji counts as 2 (UTF-16, like every length of the contract).
    with pytest.raises(TooLarge):
        room.push("a", 1, [ChangeSet.replace(4, 0, 1, "😀")])
    assert (room.text, room.version) == ("abcd", 1)
    # Only the resulting document counts, not a step on the way.
    room.push("a", 1, [insert(4, 4, "e"), ChangeSet.replace(5, 0, 1, "")])
    assert room.text == "bcde"
    over = Authority("abcdef", 0, max_length=4)
    over.push("a", 0, [ChangeSet.replace(6, 0, 1, "")])
    assert over.text == "bcdef"


def test_map_pos_follows_the_log() -> None:
    room = Authority("abcd", 0)
    room.push("a", 0, [insert(4, 0, "😀")])  # +2 units at 0
    room.push("a", 1, [ChangeSet.replace(6, 3, 5, "")])  # delete "bc"
    assert room.map_pos(2, 0) == 3  # before "c" → after "a"
    assert room.map_pos(0, 0) == 0
    assert room.map_pos(0, 0, assoc=1) == 2
    assert room.map_pos(4, 0) == 4
    assert room.map_pos(4, 2) == 4
    with pytest.raises(InvalidMessage):
        room.map_pos(5, 0)
    with pytest.raises(InvalidMessage):
        room.map_pos(-1, 2)
    with pytest.raises(InvalidVersion):
        room.map_pos(0, 3)


def test_history_restores_the_log() -> None:
    history = [Update("a", insert(0, 0, "ab")), Update("b", insert(2, 1, "-"))]
    room = Authority("a-b", 12, history, keep_updates=10)
    assert room.oldest_version == 10
    assert room.pull(10) == history
    assert room.map_pos(0, 10, assoc=1) == 3
    assert (room.map_pos(1, 11), room.map_pos(1, 11, assoc=1)) == (1, 2)
    # A stale push from version 10 is rebased over the restored history (which came first).
    room.push("c", 10, [insert(0, 0, "[")])
    assert room.text == "a-b["
    with pytest.raises(ValueError, match="end at the given text"):
        Authority("ab", 12, history)
    with pytest.raises(ValueError, match="cannot end"):
        Authority("a-b", 1, history)


def test_update_to_wire() -> None:
    update = Update("c1", ChangeSet.from_json([1, [0, "x", ""]]))
    assert update.to_wire() == {"clientId": "c1", "changes": [1, [0, "x", ""]]}


def test_rebase_updates_without_history_or_updates_is_identity() -> None:
    mine = [Update("a", insert(1, 0, "x"))]
    assert rebase_updates(mine, []) == mine
    assert rebase_updates([], mine) == []


def test_stale_push_over_a_delete_then_insert_converges() -> None:
    # The case that rules out rebasing over the composition of what came since (see the
    # module docstring of editor_core/authority.py): the author receives the two updates in two
    # messages, as the server broadcast them.
    room = Authority("a", 0)
    author = CollabClient("C", "a", 0)
    author.local_change(insert(1, 0, "b"))
    push_version, pushed = author.pending_push()
    for client_id, change in [("X", ChangeSet.replace(1, 0, 1, "")), ("Y", insert(0, 0, "a"))]:
        outcome = room.push(client_id, room.version, [change])
        author.receive(outcome.base_version, [u.to_wire() for u in outcome.accepted])
    outcome = room.push("C", push_version, [ChangeSet.from_json(c) for c in pushed])
    assert author.receive(outcome.base_version, [u.to_wire() for u in outcome.accepted])
    assert author.unconfirmed == []
    assert author.doc == room.text == "ab"
    # collab's rebaseUpdates over both at once puts "b" first: the author would keep "ab".
    (at_once,) = rebase_updates([Update("C", insert(1, 0, "b"))], room.pull(0)[:2])
    assert at_once.changes.apply("a") == "ba"


def test_rebase_stepwise_equals_rebase_updates_over_one_update() -> None:
    mine = [Update("me", insert(2, 1, "x")), Update("me", insert(3, 0, "y"))]
    for over in ([Update("o", ChangeSet.replace(2, 0, 2, "zz"))], [Update("me", mine[0].changes)]):
        assert rebase_stepwise(mine, over) == rebase_updates(mine, over)


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=100, deadline=None)
def test_rebase_stepwise_does_not_depend_on_batching(seed: int) -> None:
    rng = random.Random(seed)
    pick = rng_pick(rng)
    base = doc = random_text(pick)
    over = []
    for _ in range(rng.randint(0, 5)):
        change = random_change(pick, doc)
        over.append(Update(rng.choice(["a", "b"]), change))
        doc = change.apply(doc)
    mine, text = [], base
    for _ in range(rng.randint(1, 3)):
        change = random_change(pick, text)
        mine.append(Update("c", change))
        text = change.apply(text)
    cut = rng.randint(0, len(over))
    whole = rebase_stepwise(mine, over)
    assert rebase_stepwise(rebase_stepwise(mine, over[:cut]), over[cut:]) == whole
    # And the result applies after `over`, as the push's changes would after the log.
    for update in whole:
        doc = update.changes.apply(doc)


# -- convergence -----------------------------------------------------------------------------


@dataclass
class Peer:
    """A client and its connection: FIFO queues both ways, dropped on disconnect."""

    client: CollabClient
    connected: bool = True
    to_server: deque[str] = field(default_factory=deque)
    to_client: deque[str] = field(default_factory=deque)
    made: int = 0  # local changes made


class Network:
    """A room on the server and its peers, exchanging docs/protocol.md messages as JSON text."""

    def __init__(self, rng: random.Random, count: int, keep_updates: int = 10_000) -> None:
        self.rng = rng
        self.room = Authority("", 0, keep_updates=keep_updates)
        self.peers = [Peer(CollabClient(f"c{i}")) for i in range(count)]

    def push(self, peer: Peer) -> None:
        version, changes = peer.client.pending_push()
        if changes:
            updates = [{"changes": c} for c in changes]
            msg = {"type": "code_update", "version": version, "updates": updates}
            peer.to_server.append(json.dumps(msg))

    def pull(self, peer: Peer) -> None:
        peer.to_server.append(json.dumps({"type": "pull", "version": peer.client.version}))

    def reconnect(self, peer: Peer) -> None:
        # docs/protocol.md "Editing": pull from the synced version, then push, without waiting.
        peer.connected = True
        self.pull(peer)
        self.push(peer)

    def disconnect(self, peer: Peer) -> None:
        peer.connected = False
        peer.to_server.clear()
        peer.to_client.clear()

    def serve(self, peer: Peer) -> None:
        msg = json.loads(peer.to_server.popleft())
        if msg["type"] == "pull":
            self.send(peer, msg["version"], self.room.pull(msg["version"]))
            return
        changes = [ChangeSet.from_json(u["changes"]) for u in msg["updates"]]
        outcome = self.room.push(peer.client.client_id, msg["version"], changes)
        if outcome.accepted:
            for other in self.peers:
                if other.connected:
                    self.send(other, outcome.base_version, outcome.accepted)
        else:
            self.send(peer, msg["version"], self.room.pull(msg["version"]))

    def send(self, peer: Peer, version: int, updates: list[Update]) -> None:
        msg = {"type": "code_update", "version": version, "updates": [u.to_wire() for u in updates]}
        peer.to_client.append(json.dumps(msg))

    def deliver(self, peer: Peer) -> None:
        msg = json.loads(peer.to_client.popleft())
        if not peer.client.receive(msg["version"], msg["updates"]):
            self.pull(peer)

    def step(self, edit: Any) -> None:
        peer = self.rng.choice(self.peers)
        action = self.rng.random()
        if not peer.connected:
            if action < 0.3:
                self.reconnect(peer)
            elif action < 0.6:
                edit(peer)  # offline typing
        elif action < 0.3:
            edit(peer)
        elif action < 0.45:
            self.push(peer)
        elif action < 0.65 and peer.to_server:
            self.serve(peer)
        elif action < 0.9 and peer.to_client:
            self.deliver(peer)
        elif action > 0.97:
            self.disconnect(peer)

    def settle(self) -> None:
        """Everyone reconnects and stops typing; run until nothing is in flight."""
        for peer in self.peers:
            if not peer.connected:
                self.reconnect(peer)
        for _ in range(10_000):
            busy = False
            for peer in self.peers:
                while peer.to_server or peer.to_client:
                    busy = True
                    if peer.to_server:
                        self.serve(peer)
                    if peer.to_client:
                        self.deliver(peer)
            for peer in self.peers:
                if peer.client.unconfirmed:
                    busy = True
                    self.push(peer)
            if not busy:
                return
        raise AssertionError("the network did not settle")

    def check_converged(self) -> None:
        for peer in self.peers:
            assert peer.client.doc == self.room.text
            assert peer.client.version == self.room.version
            assert peer.client.unconfirmed == []
        # Every local change is in the log exactly once.
        made = Counter({p.client.client_id: p.made for p in self.peers if p.made})
        assert Counter(u.client_id for u in self.room.pull(0)) == made


TOKEN = re.compile(r"<[^<>]*>")


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_clients_converge_with_each_edit_exactly_once(seed: int) -> None:
    # Insert-only edits of unique tokens, always between tokens: each token must come out
    # whole, exactly once.
    rng = random.Random(seed)
    net = Network(rng, count=rng.randint(2, 6))

    def edit(peer: Peer) -> None:
        client = peer.client
        ends = [0] + [m.end() for m in TOKEN.finditer(client.doc)]
        pos = utf16_length(client.doc[: rng.choice(ends)])
        token = f"<{client.client_id}.{peer.made}{rng.choice(['', '😀', 'é'])}>"
        client.local_change(insert(utf16_length(client.doc), pos, token))
        peer.made += 1

    for _ in range(rng.randint(50, 300)):
        net.step(edit)
    net.settle()
    net.check_converged()
    tokens = TOKEN.findall(net.room.text)
    assert "".join(tokens) == net.room.text
    assert len(tokens) == len(set(tokens)) == sum(p.made for p in net.peers)


@given(st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_clients_converge_with_arbitrary_edits(seed: int) -> None:
    rng = random.Random(seed)
    net = Network(rng, count=rng.randint(2, 5))
    pick = rng_pick(rng)

    def edit(peer: Peer) -> None:
        change = random_change(pick, peer.client.doc, max_edits=2)
        if not change.empty:
            peer.client.local_change(change)
            peer.made += 1

    for _ in range(rng.randint(50, 300)):
        net.step(edit)
    net.settle()
    net.check_converged()


def test_a_client_that_fell_behind_the_history_is_told_so() -> None:
    net = Network(random.Random(1), count=2, keep_updates=3)
    slow, fast = net.peers
    slow.client.local_change(insert(0, 0, "s"))
    for i in range(5):
        fast.client.local_change(insert(i, i, "f"))
        net.push(fast)
        net.serve(fast)
        net.deliver(fast)
    net.push(slow)
    with pytest.raises(HistoryGone):
        net.serve(slow)
