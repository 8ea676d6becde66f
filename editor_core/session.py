"""One room's protocol, sans-I/O: events in, effects out (docs/architecture.md "The room
session").

The server calls a method for each event (a peer joined, pushed, moved its cursor, asked to
run; the store committed; a run wrote output or ended) and performs the effects it returns, in
order: `Send` a frame, `Close` a peer, `Persist` updates, `StartRun`/`StopRun`, `SaveRun`,
`ScheduleDiagnostics`.
Peers are opaque handles of type `P` (the server's connections). Time and identifiers are
parameters. Nothing here awaits, so the session is tested with plain calls
(tests/core/test_session.py).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from editor_core.authority import Authority, Update
from editor_core.changeset import ChangeSet
from editor_core.close_codes import CloseCode
from editor_core.errors import (
    Busy,
    ClientIdInUse,
    InvalidMessage,
    PairpadError,
    ReadOnly,
    RoomFull,
    RoomLocked,
    UnknownRun,
)
from editor_core.history import restoring_change
from editor_core.presence import Presence

P = TypeVar("P")
Frame = dict[str, Any]


# -- effects -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send(Generic[P]):
    """Send `frame` to each of `to`, in order; encode it once for all of them."""

    to: Sequence[P]
    frame: Frame


@dataclass(frozen=True, slots=True)
class Reply(Generic[P]):
    """Answer `to` with an `error` frame for `error` (the server owns the error's wire form)."""

    to: P
    error: PairpadError


@dataclass(frozen=True, slots=True)
class Close(Generic[P]):
    """Send what is queued for `peer`, then close it with `code`."""

    peer: P
    code: CloseCode
    reason: str


@dataclass(frozen=True, slots=True)
class Persist:
    """Commit `updates` (versions `base_version + 1 ..`) and the document after them, `text`
    of UTF-16 length `length`; then call `committed(base_version + len(updates))`. `author`
    is the pusher's display name, kept with the updates in the history."""

    updates: Sequence[Update]
    base_version: int
    text: str
    length: int
    updated_at: str
    author: str = ""


@dataclass(frozen=True, slots=True)
class StartRun:
    """Run `code` (the document at `version`) with `stdin` for `client_id`; report
    `run_output` as it comes and `run_finished` once."""

    run_id: str
    code: str
    stdin: str
    client_id: str
    version: int


@dataclass(frozen=True, slots=True)
class StopRun:
    run_id: str


@dataclass(frozen=True, slots=True)
class SaveRun:
    """Store a finished run's result; then call `run_saved(run_id)` (stored before told)."""

    run_id: str
    finished_at: str
    result: Frame


@dataclass(frozen=True, slots=True)
class ScheduleDiagnostics:
    """The published document changed (or a peer joined a room whose current version is not
    analysed): analyse it once edits settle, then call `diagnosed(version, items)` with the
    version analysed (docs/protocol.md `diagnostics`). Repeated requests for a burst of
    versions are the server's to coalesce: only the latest published version matters."""

    version: int


Effect = (Send[P] | Reply[P] | Close[P] | Persist | StartRun | StopRun | SaveRun
          | ScheduleDiagnostics)


# -- state ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoomInfo:
    """What a room is, apart from its document: fixed at creation but for `updated_at`."""

    room_id: str
    name: str
    language: str
    created_at: str
    updated_at: str


@dataclass(slots=True)
class ActiveRun:
    run_id: str
    client_id: str
    name: str
    version: int
    since: str
    output: list[str] = field(default_factory=list)
    output_size: int = 0
    stopped_by: str | None = None  # the name of whoever's `stop` was accepted first
    result: Frame | None = None  # set once finished, until it is saved

    def lock(self) -> Frame:
        """docs/protocol.md `Lock`."""
        return {"runId": self.run_id, "clientId": self.client_id, "name": self.name,
                "version": self.version, "since": self.since, "output": "".join(self.output)}


@dataclass(frozen=True, slots=True)
class Cadence:
    """How often a busy room publishes (docs/architecture.md "The room session"): while more
    than `busy_authors` distinct authors made the room's last `recent` updates, at most one
    `code_update` per `window` seconds, so each peer gets one frame with several updates
    instead of several frames. A quiet room, or the first commit after a quiet `window`, is
    published at once. `window` 0 publishes every commit at once. With `fanout` > 0 a
    commit waits only while publishing every commit at once would send more than `fanout`
    frames a second: the room's recent update rate (an average of the gaps between committed
    updates, `smoothing` per update) times its peers. Below that the room's broadcasts cost
    little, and a wait would cost latency for nothing (docs/performance-collab.md "Lever 4").
    `fanout` 0: every busy window waits."""

    window: float = 0.0
    busy_authors: int = 16
    recent: int = 64
    fanout: float = 0.0
    smoothing: float = 0.0625


class _Pushers:
    """The authors of a room's last `size` accepted updates, counted: O(1) per update."""

    __slots__ = ("_counts", "_order", "_size")

    def __init__(self, size: int) -> None:
        self._size = size
        self._order: deque[str] = deque()
        self._counts: Counter[str] = Counter()

    def add(self, author: str) -> None:
        self._order.append(author)
        self._counts[author] += 1
        if len(self._order) > self._size:
            gone = self._order.popleft()
            self._counts[gone] -= 1
            if not self._counts[gone]:
                del self._counts[gone]

    def __len__(self) -> int:
        return len(self._counts)


@dataclass(frozen=True, slots=True)
class _WaitingPull(Generic[P]):
    peer: P
    version: int
    until: int  # answer once this version is published


class RoomSession(Generic[P]):
    """The decisions of one room: who gets what and when, over the `Authority` (order and
    rebase), `Presence` (participants, cursors) and the run lock.

    Published state: `version` and `text` are what every peer has been sent. An accepted push
    is `Persist`ed at once and published (one `code_update` to every peer) only after
    `committed` says it is durable (docs/architecture.md "Guarantees" 2); `publish` sends all
    that is committed and unsent as one frame, so the server calls it once per group commit,
    or, while the room is busy, once `publish_delay` says the `cadence` window is over.
    """

    def __init__(self, info: RoomInfo, authority: Authority, *, max_peers: int,
                 output_cap: int, limits: Frame, last_run: Frame | None = None,
                 max_stdin_bytes: int = 2**20, cadence: Cadence = Cadence()) -> None:
        self.info = info
        self.authority = authority
        self.presence = Presence()
        self.peers: dict[str, P] = {}
        self.run: ActiveRun | None = None
        self.last_run = last_run
        self.failed = False
        self.version = authority.version
        self.text = authority.text
        self.length = authority.length
        self._max_peers = max_peers
        self._output_cap = output_cap
        self._max_stdin_bytes = max_stdin_bytes
        self._limits = limits
        self._committed = authority.version
        self._unsent: deque[Update] = deque()
        # (version, text, length) after each persisted push not yet published: the texts the
        # authority computed, so publishing applies nothing a second time.
        self._snapshots: deque[tuple[int, str, int]] = deque()
        self._waiting: list[_WaitingPull[P]] = []
        self._cadence = cadence
        self._pushers = _Pushers(cadence.recent)
        self._published_at = float("-inf")  # when the last `code_update` went out
        self._committed_at: float | None = None  # when `committed` last moved, with a time
        self.update_gap = float("inf")  # the average seconds between committed updates
        # Viewers (docs/protocol.md "Read-only links"): clientId → the link they came through.
        self._viewers: dict[str, str] = {}
        # The last `diagnostics` frame sent: what a late joiner gets after `init` while it is
        # for the published version.
        self.diagnostics: Frame | None = None

    # -- peers (docs/protocol.md "WebSocket: …") -------------------------------------------

    def join(self, peer: P, client_id: str, name: str,
             link: str | None = None) -> list[Effect[P]]:
        """A connection of `client_id` opened: `init` to it, `participant_joined` to the
        others. A second connection of the same client replaces the first (4409). With `link`,
        the peer is a viewer of that read-only link: its `init` has no `roomId`, and it may not
        replace an editor's connection (`ClientIdInUse`)."""
        old = self.peers.get(client_id)
        if old is None and len(self.peers) >= self._max_peers:
            raise RoomFull("the room is full")
        if old is not None and link is not None and client_id not in self._viewers:
            raise ClientIdInUse("that clientId belongs to an editor of this room")
        effects: list[Effect[P]] = []
        if old is not None:
            effects.append(Close(old, CloseCode.REPLACED, "replaced by a newer connection"))
            self._waiting = [w for w in self._waiting if w.peer is not old]
        self.peers[client_id] = peer
        role = "editor" if link is None else "viewer"
        was_viewer = client_id in self._viewers
        if link is None:
            self._viewers.pop(client_id, None)
        else:
            self._viewers[client_id] = link
        participant = self.presence.join(client_id, name, role)
        init: Frame = {
            "type": "init", "roomId": self.info.room_id, "role": role,
            "language": self.info.language, "version": self.version, "code": self.text,
            "clientId": client_id, "color": participant.color,
            "participants": self.participants(), "lock": self.run.lock() if self.run else None,
            "lastRun": self.last_run, "limits": self._limits,
        }
        if link is not None:  # a viewer never learns the room id
            del init["roomId"]
        effects.append(Send([peer], init))
        if old is None or was_viewer != (link is not None):  # new, or the same in a new role
            effects.append(Send(self._others(client_id), {
                "type": "participant_joined", "participant": participant.to_wire()}))
        if self.diagnostics is not None and self.diagnostics["version"] == self.version:
            effects.append(Send([peer], self.diagnostics))
        else:
            effects.append(ScheduleDiagnostics(self.version))
        return effects

    def leave(self, peer: P, client_id: str) -> list[Effect[P]]:
        """`peer` is gone. A replaced connection leaves without a trace: its client stays."""
        if self.peers.get(client_id) is not peer:
            return []
        del self.peers[client_id]
        self._viewers.pop(client_id, None)
        self.presence.leave(client_id)
        self._waiting = [w for w in self._waiting if w.peer is not peer]
        return [Send(list(self.peers.values()),
                     {"type": "participant_left", "clientId": client_id})]

    def close_all(self, code: CloseCode, reason: str) -> list[Effect[P]]:
        return [Close(peer, code, reason) for peer in self.peers.values()]

    def revoke(self, link: str) -> list[Effect[P]]:
        """The read-only link `link` was revoked: close its viewers with 4403."""
        return [Close(self.peers[client_id], CloseCode.REVOKED, "the link was revoked")
                for client_id, of in self._viewers.items() if of == link]

    def is_viewer(self, client_id: str) -> bool:
        return client_id in self._viewers

    def require_editor(self, client_id: str) -> None:
        """`ReadOnly` for a viewer: nothing a viewer sends may change the room."""
        if client_id in self._viewers:
            raise ReadOnly("this is a read-only link: viewers cannot edit, run or stop")

    # -- edits (docs/protocol.md "Editing") --------------------------------------------------

    def push(self, peer: P, client_id: str, version: int, changes: Sequence[ChangeSet],
             now: str, author: str = "") -> list[Effect[P]]:
        """Accept a push into the authority and `Persist` it; a push that adds nothing new is
        answered with a pull once all it contained is published. `ReadOnly` for a viewer.
        `author`: the pusher's display name (by default its participant name)."""
        self.require_editor(client_id)
        if not author:
            participant = self.presence.get(client_id)
            author = participant.name if participant is not None else ""
        outcome = self.authority.push(client_id, version, changes)
        if not outcome.accepted:
            if self.version >= self.authority.version:
                return [self._pull(peer, version)]
            self._waiting.append(_WaitingPull(peer, version, self.authority.version))
            return []
        self._unsent.extend(outcome.accepted)
        for update in outcome.accepted:
            self._pushers.add(update.client_id)
        self._snapshots.append((self.authority.version, self.authority.text,
                                self.authority.length))
        self.info = replace(self.info, updated_at=now)
        return [Persist(outcome.accepted, outcome.base_version, self.authority.text,
                        self.authority.length, now, author)]

    def restore(self, text: str, client_id: str, author: str, now: str) -> list[Effect[P]]:
        """Make the document `text` again, as one update of `client_id` (a restore's own id,
        never a peer's) on top of the current version; nothing when it already is `text`
        (docs/protocol.md `POST /rooms/{roomId}/restore`)."""
        change = restoring_change(self.authority.text, text)
        if change is None:
            return []
        outcome = self.authority.push(client_id, self.authority.version, [change])
        self._unsent.extend(outcome.accepted)
        self._snapshots.append((self.authority.version, self.authority.text,
                                self.authority.length))
        self.info = replace(self.info, updated_at=now)
        return [Persist(outcome.accepted, outcome.base_version, self.authority.text,
                        self.authority.length, now, author)]

    def committed(self, version: int, now: float | None = None) -> None:
        """The store made every update up to `version` durable; `publish` sends them. `now`
        (`publish_delay`'s clock) feeds the update rate that `Cadence.fanout` reads."""
        count = version - self._committed
        if count <= 0:
            return
        self._committed = version
        if now is None:
            return
        if self._committed_at is not None:
            # Each of the `count` updates is one sample of the gap `elapsed / count`.
            gap = (now - self._committed_at) / count
            weight = 1 - (1 - self._cadence.smoothing) ** count
            self.update_gap = (gap if self.update_gap == float("inf")
                               else self.update_gap + weight * (gap - self.update_gap))
        self._committed_at = now

    @property
    def busy(self) -> bool:
        """More than `cadence.busy_authors` distinct authors made the last updates."""
        return len(self._pushers) > self._cadence.busy_authors

    def publish_delay(self, now: float) -> float:
        """Seconds (on the clock of `publish`'s `now`) to wait before calling `publish` for
        what is committed: 0 in a quiet room, in a busy one whose broadcasts would send at
        most `cadence.fanout` frames a second, or once the window since the last
        `code_update` is over. Never delays anything but the broadcast of committed updates."""
        cadence = self._cadence
        if cadence.window <= 0 or not self.busy:
            return 0.0
        if cadence.fanout > 0 and len(self.peers) < cadence.fanout * self.update_gap:
            return 0.0  # peers x updates per second within the budget: publish at once
        return max(0.0, self._published_at + self._cadence.window - now)

    def publish(self, now: float = float("-inf")) -> list[Effect[P]]:
        """One `code_update` to every peer with all that is committed and unsent, then the
        pull answers that waited for it. `now`: the time of `publish_delay`'s clock."""
        count = self._committed - self.version
        if count <= 0 or self.failed:
            return []
        self._published_at = now
        updates = [self._unsent.popleft() for _ in range(count)]
        while self._snapshots and self._snapshots[0][0] <= self._committed:
            _, self.text, self.length = self._snapshots.popleft()
        frame = {"type": "code_update", "version": self.version,
                 "updates": [update.to_wire() for update in updates]}
        self.version = self._committed
        effects: list[Effect[P]] = [Send(list(self.peers.values()), frame),
                                    ScheduleDiagnostics(self.version)]
        ready = [w for w in self._waiting if w.until <= self.version]
        if ready:
            self._waiting = [w for w in self._waiting if w.until > self.version]
            effects.extend(self._pull(w.peer, w.version) for w in ready)
        return effects

    def pull(self, peer: P, version: int) -> list[Effect[P]]:
        """The published updates after `version`, to `peer` alone."""
        self.authority.pull(version)  # InvalidVersion / HistoryGone, raised to the caller
        return [self._pull(peer, version)]

    def _pull(self, peer: P, version: int) -> Send[P] | Reply[P]:
        try:
            updates = self.authority.pull(version)
        except PairpadError as exc:  # history trimmed while the answer waited
            return Reply(peer, exc)
        published = updates[: max(0, self.version - version)]
        return Send([peer], {"type": "code_update", "version": version,
                             "updates": [update.to_wire() for update in published]})

    @property
    def settled(self) -> bool:
        """Every accepted update is committed and published."""
        return self.version == self.authority.version

    # -- diagnostics (docs/protocol.md `diagnostics`) -------------------------------------------

    def diagnosed(self, version: int, items: list[Frame], *,
                  overdue: bool = False) -> list[Effect[P]]:
        """The analysis of the published document at `version` is done: one `diagnostics`
        frame to every peer, unless a newer version was published meanwhile (its own
        analysis follows) or this version was already sent. `overdue`: the room has gone
        without diagnostics for longer than it may (edits never settle, so every analysis
        ends behind the newest version): send it anyway, a little behind; peers map it
        forward as they map a cursor."""
        if self.failed or version > self.version or (version < self.version and not overdue):
            return []
        if self.diagnostics is not None and self.diagnostics["version"] >= version:
            return []
        self.diagnostics = {"type": "diagnostics", "version": version, "items": items}
        return [Send(list(self.peers.values()), self.diagnostics)]

    # -- presence (docs/protocol.md `cursor`) ------------------------------------------------

    def map_to_published(self, version: int, position: int) -> int:
        """Map a position of the published document at `version` to the current published
        one (a peer only knows published versions)."""
        if self.version < version <= self.authority.version:
            raise InvalidMessage(f"position outside the document at version {version}")
        return self.authority.map_pos(position, version, 1, to_version=self.version)

    def cursor(self, client_id: str, version: int, anchor: int, head: int) -> list[Effect[P]]:
        anchor = self.map_to_published(version, anchor)
        head = self.map_to_published(version, head)
        self.presence.set_cursor(client_id, anchor, head, self.version)
        return [Send(self._others(client_id), {
            "type": "cursor", "clientId": client_id, "version": self.version,
            "anchor": anchor, "head": head})]

    def participants(self) -> list[Frame]:
        """docs/protocol.md `Participant`s, cursors mapped to the published version (a cursor
        that no longer maps is shown as none)."""
        out = []
        for participant in self.presence.participants():
            wire = participant.to_wire()
            if participant.cursor is not None and participant.cursor_version is not None:
                try:
                    anchor, head = (self.map_to_published(participant.cursor_version, pos)
                                    for pos in participant.cursor)
                    wire["cursor"] = {"anchor": anchor, "head": head}
                except PairpadError:
                    wire["cursor"] = None
            out.append(wire)
        return out

    # -- runs (docs/protocol.md `run`, `stop`) -----------------------------------------------

    def start_run(self, client_id: str, name: str, stdin: str, run_id: str, now: str, *,
                  queue_full: bool) -> list[Effect[P]]:
        """Take the run lock and run the published document as of `now` (the run's
        `startedAt`); `RoomLocked` while another run holds it, `Busy` when the server's run
        queue is full, `InvalidMessage` for a `stdin` over its limit (UTF-8 bytes), `ReadOnly`
        for a viewer."""
        self.require_editor(client_id)
        stdin_bytes = len(stdin.encode("utf-8", "surrogatepass"))
        if stdin_bytes > self._max_stdin_bytes:
            raise InvalidMessage(
                f"stdin is {stdin_bytes} bytes; at most {self._max_stdin_bytes} are allowed",
                details=[{"loc": ["stdin"], "message": f"at most {self._max_stdin_bytes}"
                          " bytes (UTF-8)", "type": "too_long"}])
        if self.run is not None:
            raise RoomLocked("a run holds the room's lock", lock=self.run.lock())
        if queue_full:
            raise Busy("the server's run queue is full", retry_after_ms=2000)
        run = ActiveRun(run_id, client_id, name, self.version, now)
        self.run = run
        lock = run.lock()
        del lock["output"]
        return [Send(list(self.peers.values()), {"type": "execution_lock", **lock}),
                StartRun(run_id, self.text, stdin, client_id, run.version)]

    def stop_run(self, run_id: str, name: str, client_id: str) -> list[Effect[P]]:
        """`name` (client `client_id`) asks to stop the run; the first accepted stop is the one
        the result names (`stoppedBy`), later ones only repeat the request. `ReadOnly` for a
        viewer."""
        self.require_editor(client_id)
        run = self.run
        if run is None or run.run_id != run_id or run.result is not None:
            raise UnknownRun(f"run {run_id!r} is not running")
        if run.stopped_by is None:
            run.stopped_by = name
        return [StopRun(run_id)]

    def run_output(self, run_id: str, stream: str, data: str) -> list[Effect[P]]:
        """Output of the active run: kept for late joiners up to the output cap, sent to all."""
        run = self.run
        if run is None or run.run_id != run_id:
            return []
        if run.output_size < self._output_cap:
            kept = data[: self._output_cap - run.output_size]
            run.output.append(kept)
            run.output_size += len(kept)
        return [Send(list(self.peers.values()), {"type": "execution_output", "runId": run_id,
                                                 "stream": stream, "data": data})]

    def run_finished(self, run_id: str, result: Frame, now: str) -> list[Effect[P]]:
        """The run ended with `result` (docs/protocol.md `ExecutionResult`): save it first.
        `stoppedBy` names the stopper only when the stop is what ended it (a stop that came as
        the run finished on its own names no one)."""
        run = self.run
        if run is None or run.run_id != run_id or run.result is not None:
            return []
        stopped_by = run.stopped_by if result.get("status") == "stopped" else None
        run.result = {**result, "runId": run_id, "version": run.version,
                      "clientId": run.client_id, "name": run.name, "startedAt": run.since,
                      "finishedAt": now, "stoppedBy": stopped_by}
        return [SaveRun(run_id, now, run.result)]

    def run_saved(self, run_id: str) -> list[Effect[P]]:
        """The result is stored (or could not be): release the lock and tell everyone."""
        run = self.run
        if run is None or run.run_id != run_id or run.result is None:
            return []
        self.run = None
        self.last_run = run.result
        return [Send(list(self.peers.values()), {"type": "execution_result", **run.result})]

    # -- the room as a whole -----------------------------------------------------------------

    def state(self) -> Frame:
        """docs/protocol.md `GET /rooms/{roomId}`: the room at its published version."""
        info = self.info
        return {"roomId": info.room_id, "name": info.name, "language": info.language,
                "code": self.text, "version": self.version,
                "participants": self.participants(),
                "lock": self.run.lock() if self.run else None, "lastRun": self.last_run,
                "createdAt": info.created_at, "updatedAt": info.updated_at}

    def fail(self, code: CloseCode = CloseCode.INTERNAL_ERROR,
             reason: str = "store commit failed") -> list[Effect[P]]:
        """The room cannot go on here (its store refused a write: 1011; another process took
        it over: 1012): close everyone."""
        if self.failed:
            return []
        self.failed = True
        return self.close_all(code, reason)

    @property
    def unloadable(self) -> bool:
        """Nothing in flight: no peer, no run, every accepted update committed."""
        return not self.peers and self.run is None and self._committed == self.authority.version

    def _others(self, client_id: str) -> list[P]:
        return [peer for cid, peer in self.peers.items() if cid != client_id]
