"""A load-generator process: one asyncio loop driving many simulated editors over `lean` sockets.

The parent (`__main__`) sends commands over a pipe; each one is answered once:

- `connect`: open every client's socket (client `index` to `ports[index % len(ports)]`: the
  processes of one deployment round-robin), then wait until each of the worker's clients sees
  its room complete (the participant count given), so the joins' broadcast storm is over before
  timing. With `more`, it adds clients to the scenario's, to join them in a chosen order.
- `run`: every author types `rate` edits a second from `t0` for `duration` seconds; answers with
  how many edits its authors made, in all and per room.
- `drain`: wait until every client reached its room's final version; answers with latencies.
- `close`, `exit`.

Editors follow `@codemirror/collab`: one push in flight, the next one carries every edit made
meanwhile. Every edit inserts one line at the start of the document, always of the same length,
so the document's length at any version is known without keeping the text: a push at the
synced version `v` is `[[0, token, ""], length(v)]`. The token is made when the push is sent and
carries that instant (`time.monotonic()`, CLOCK_MONOTONIC, one clock for every process of the
machine), so any receiver can tell how long the update took from its author's push to it.

The peer workload (`workload="token"`, the fan-out issue's): each edit inserts a 13-character
token (`~` and the push instant in µs, base 36) at a random place of the document; only the
clients that are not authors (the observers) time arrivals. With `protocol="hocuspocus"` the
same clients speak Yjs to `@hocuspocus/server` instead (scripts/collab_bench/yjs.py): an author
sends each token as it is typed, as a Yjs provider does. Authors of either protocol read only
what they must of what they receive (a Yjs author the message type, a Pairpad author the
version and who made each update), so the load generator spends the same on both servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from . import yjs
from .lean import LeanSocket, open_socket

TOKEN_WIDTH = 40  # "<client index>.<seq>.<µs>" zero-padded: every insert has the same length
INSERT_LENGTH = TOKEN_WIDTH + 1  # the token and a line break
PEER_TOKEN_LENGTH = 13  # the peer workload: "~" and 12 base-36 digits of µs
DOCUMENT = "bench"  # the Hocuspocus document name
BUCKET_S = 0.0001  # latency histograms: 0.1 ms buckets
CONNECT_CONCURRENCY = 64
CONNECT_TIMEOUT_S = 30.0
UPDATE_HEAD = b'{"type":"code_update","version":'  # how server/wire.py encodes one


def bucket(seconds: float) -> int:
    return max(0, int(seconds / BUCKET_S))


def make_token(index: int, seq: int, now: float) -> str:
    """`TOKEN_WIDTH` characters: who, which edit, and the push instant in microseconds."""
    return f"{index:08d}.{seq:08d}.{int(now * 1e6):022d}"


def peer_token(now: float) -> str:
    return "~" + _base36(int(now * 1e6)).rjust(PEER_TOKEN_LENGTH - 1, "0")


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, d = divmod(n, 36)
        out = digits[d] + out
    return out or "0"


def peer_token_times(text: str | bytes) -> list[float]:
    """The push instants of the peer tokens in an inserted text (tokens are never split)."""
    return [int(text[i + 1 : i + PEER_TOKEN_LENGTH], 36) / 1e6
            for i in range(0, len(text) - PEER_TOKEN_LENGTH + 1, PEER_TOKEN_LENGTH)]


def token_time(changes: list[Any]) -> float | None:
    for section in changes:
        if isinstance(section, list) and len(section) >= 2:
            return int(section[1][-22:]) / 1e6
    return None


@dataclass
class Stats:
    delivery: Counter[int] = field(default_factory=Counter)
    confirm: Counter[int] = field(default_factory=Counter)
    delivered_in_window: int = 0
    pushes_in_window: int = 0
    updates_in_window: int = 0
    pushed: int = 0
    made: int = 0  # edits made; each becomes one update once pushed
    made_by_room: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    out_of_order: int = 0
    closed: Counter[str] = field(default_factory=Counter)


class Editor:
    def __init__(self, fleet: Fleet, index: int, room_id: str, client_id: str,
                 author: bool) -> None:
        self.fleet = fleet
        self.index = index
        self.room_id = room_id
        self.client_id = client_id
        self.author = author
        self.sock: LeanSocket | None = None
        self.version = -1  # synced version; -1 until init
        self.participants = 0
        self.pending = 0  # edits made, not pushed yet
        self.sent_upto = 0  # updates pushed so far
        self.confirmed = 0
        self.push_sent_at = 0.0
        self.seq = 0
        self.reached = asyncio.Event()  # at `fleet.target[room]` (participants or version)
        self.own_key = f'"clientId":{json.dumps(client_id)}'.encode()

    def on_message(self, data: bytes) -> None:
        now = time.monotonic()
        fleet = self.fleet
        if self.author and fleet.peer_workload and data.startswith(UPDATE_HEAD):
            # What an author needs and no more, as the Yjs authors decode nothing they receive:
            # the frame's version, how many updates it holds, how many are its own. The changes
            # are tokens and offsets, so neither key can occur inside them.
            end = data.index(b",", len(UPDATE_HEAD))
            self._advance(now, int(data[len(UPDATE_HEAD):end]), data.count(b'"clientId":'),
                          data.count(self.own_key))
            fleet.check(self)
            return
        frame = json.loads(data)
        kind = frame["type"]
        if kind == "code_update":
            updates = frame["updates"]
            own = 0
            lo, hi = fleet.window
            for update in updates:
                if update["clientId"] == self.client_id:
                    own += 1
                    continue
                if fleet.peer_workload:
                    if not self.author:
                        fleet.record(now, _peer_times(update["changes"]))
                    continue
                sent = token_time(update["changes"])
                if sent is not None and lo <= sent <= hi:
                    fleet.stats.delivery[bucket(now - sent)] += 1
                    fleet.stats.delivered_in_window += 1
            self._advance(now, frame["version"], len(updates), own)
        elif kind == "init":
            self.version = frame["version"]
            self.participants = len(frame["participants"])
        elif kind == "participant_joined":
            self.participants += 1
        elif kind == "participant_left":
            self.participants -= 1
        elif kind == "error":
            fleet.stats.errors[frame["code"]] += 1
        fleet.check(self)

    def _advance(self, now: float, version: int, count: int, own: int) -> None:
        """A `code_update` of `count` updates from `version`, `own` of them this editor's."""
        fleet = self.fleet
        if version != self.version:
            fleet.stats.out_of_order += 1
        self.version = max(self.version, version + count)
        if own:
            self.confirmed += own
            if self.confirmed >= self.sent_upto:
                lo, hi = fleet.window
                if lo <= self.push_sent_at <= hi:
                    fleet.stats.confirm[bucket(now - self.push_sent_at)] += 1
                self.push()

    def edit(self) -> None:
        self.fleet.stats.made += 1
        self.fleet.stats.made_by_room[self.room_id] += 1
        self.pending += 1
        self.push()

    def push(self) -> None:
        if self.pending == 0 or self.confirmed < self.sent_upto or self.sock is None:
            return
        now = time.monotonic()
        updates = []
        fleet = self.fleet
        for j in range(self.pending):
            self.seq += 1
            if fleet.peer_workload:
                length = fleet.base_length + PEER_TOKEN_LENGTH * (self.version + j)
                at = fleet.rng.randint(0, length)
                changes: list[Any] = [at, [0, peer_token(now)], length - at]
                changes = [c for c in changes if c != 0]
            else:
                length = fleet.base_length + INSERT_LENGTH * (self.version + j)
                changes = [[0, make_token(self.index, self.seq, now), ""]]
                if length:
                    changes.append(length)
            updates.append({"changes": changes})
        self.sock.send_text(json.dumps(
            {"type": "code_update", "version": self.version, "updates": updates},
            separators=(",", ":")).encode())
        lo, hi = self.fleet.window
        if lo <= now <= hi:
            self.fleet.stats.pushes_in_window += 1
            self.fleet.stats.updates_in_window += self.pending
        self.fleet.stats.pushed += self.pending
        self.sent_upto += self.pending
        self.pending = 0
        self.push_sent_at = now


    def progress(self, mode: str) -> int:
        return self.participants if mode == "participants" else self.version


def _peer_times(changes: list[Any]) -> list[float]:
    times: list[float] = []
    for section in changes:
        if isinstance(section, list) and len(section) >= 2:
            times += peer_token_times(section[1])
    return times


class YEditor:
    """A Hocuspocus client (see yjs.py): authenticates, syncs, then types or observes."""

    def __init__(self, fleet: Fleet, index: int, room_id: str, client_id: str,
                 author: bool) -> None:
        self.fleet = fleet
        self.index = index
        self.room_id = room_id
        self.client_id = client_id
        self.author = author
        self.sock: LeanSocket | None = None
        self.ydoc_client = index + 1  # unique across workers: the global client index
        self.clock = 0
        self.own: list[int] = []  # the first clock of each of our tokens
        self.synced = False
        self.tokens_seen = 0  # observers: tokens received
        self.reached = asyncio.Event()

    def opened(self) -> None:
        assert self.sock is not None
        self.sock.send_binary(yjs.auth_message(DOCUMENT))
        self.sock.send_binary(yjs.sync_step1_message(DOCUMENT))

    def on_message(self, data: bytes) -> None:
        now = time.monotonic()
        kind, step, pos = yjs.message_kind(data)
        if kind == yjs.SYNC:
            if step == yjs.STEP2:
                self.synced = True
            elif step == yjs.UPDATE and not self.author:
                for text in yjs.inserted_strings(data, pos):
                    times = peer_token_times(text)
                    self.tokens_seen += len(times)
                    self.fleet.record(now, times)
        self.fleet.check(self)

    def progress(self, mode: str) -> int:
        if mode == "participants":
            return 1 << 30 if self.synced else 0
        return 1 << 30 if self.author else self.tokens_seen  # authors keep no document

    def edit(self) -> None:
        fleet = self.fleet
        fleet.stats.made += 1
        if self.sock is None:
            return
        now = time.monotonic()
        origin = None
        if self.own and fleet.rng.random() >= 1 / (len(self.own) + 1):
            origin = (self.ydoc_client,
                      fleet.rng.choice(self.own) + fleet.rng.randrange(PEER_TOKEN_LENGTH))
        update = yjs.insert_update(self.ydoc_client, self.clock, origin, peer_token(now))
        self.sock.send_binary(yjs.update_message(DOCUMENT, update))
        self.own.append(self.clock)
        self.clock += PEER_TOKEN_LENGTH
        lo, hi = fleet.window
        if lo <= now <= hi:
            fleet.stats.pushes_in_window += 1
            fleet.stats.updates_in_window += 1
        fleet.stats.pushed += 1


class Fleet:
    """The editors of one worker for one scenario."""

    def __init__(self, host: str, ports: list[int], deflate: bool, base_length: int,
                 protocol: str = "pairpad", workload: str = "line", seed: int = 0) -> None:
        self.host = host
        self.ports = ports
        self.deflate = deflate
        self.base_length = base_length
        self.protocol = protocol
        self.peer_workload = workload == "token"
        self.rng = random.Random(seed)
        self.editors: list[Editor | YEditor] = []
        self.stats = Stats()
        self.window = (float("inf"), float("-inf"))  # push instants that count
        self.want: dict[str, int] = {}  # room -> participants, then room -> final version
        self.mode = "participants"

    def check(self, editor: Editor | YEditor) -> None:
        want = self.want.get(editor.room_id)
        if want is not None and editor.progress(self.mode) >= want:
            editor.reached.set()

    def record(self, now: float, sent_times: list[float]) -> None:
        lo, hi = self.window
        for sent in sent_times:
            if lo <= sent <= hi:
                self.stats.delivery[bucket(now - sent)] += 1
                self.stats.delivered_in_window += 1

    async def connect(self, clients: list[tuple[int, str, str, bool]]) -> int:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        failed = 0

        async def one(editor: Editor | YEditor) -> None:
            nonlocal failed
            path = (f"/{DOCUMENT}" if isinstance(editor, YEditor)
                    else f"/ws/{editor.room_id}/{editor.client_id}?name=b")
            async with gate:
                try:
                    async with asyncio.timeout(CONNECT_TIMEOUT_S):
                        port = self.ports[editor.index % len(self.ports)]
                        editor.sock = await open_socket(self.host, port, path,
                                                        self.deflate, editor.on_message)
                except (OSError, TimeoutError):
                    failed += 1
                    return
            editor.sock.closed.add_done_callback(self._closed_callback(editor))
            if isinstance(editor, YEditor):
                editor.opened()

        kind = YEditor if self.protocol == "hocuspocus" else Editor
        new = [kind(self, index, room_id, client_id, author)
               for index, room_id, client_id, author in clients]
        self.editors += new
        await asyncio.gather(*(one(e) for e in new))
        return failed

    async def wait_reached(self, mode: str, want: dict[str, int], within_s: float) -> int:
        """Wait until every editor reached `want[room]`; return how many did not in time."""
        self.mode, self.want = mode, want
        for editor in self.editors:
            editor.reached.clear()
            self.check(editor)
        live = [e for e in self.editors if e.sock is not None]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within_s):
                await asyncio.gather(*(e.reached.wait() for e in live))
        return sum(1 for e in self.editors if not e.reached.is_set())

    async def run_authors(self, t0: float, duration: float, rate: float, seed: int) -> None:
        rng = random.Random(seed)
        end = t0 + duration

        async def author(editor: Editor | YEditor) -> None:
            at = t0 + rng.uniform(0, 1 / rate)
            for _ in range(int(duration * rate) + 1):  # bounded in count and in time
                if at >= end:
                    return
                delay = at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)  # the typing cadence of a benchmark author
                editor.edit()
                at += 1 / rate

        await asyncio.gather(*(author(e) for e in self.editors if e.author and e.sock))

    def _closed_callback(self, editor: Editor | YEditor,
                         ) -> Callable[[asyncio.Future[int | None]], None]:
        def closed(future: asyncio.Future[int | None]) -> None:
            self.stats.closed[str(future.result())] += 1  # the close code; None: no close frame
            editor.sock = None
        return closed

    def close(self) -> None:
        for editor in self.editors:
            if editor.sock is not None:
                editor.sock.close()


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def serve(pipe: Connection) -> None:
    fleet: Fleet | None = None
    while True:
        command: dict[str, Any] = await asyncio.to_thread(pipe.recv)
        name = command["cmd"]
        if name == "connect":
            if fleet is None or not command.get("more"):  # else: add to this scenario's
                fleet = Fleet(command["host"], command["ports"], command["deflate"],
                              command["base_length"], command.get("protocol", "pairpad"),
                              command.get("workload", "line"), command.get("seed", 0))
            started = time.monotonic()
            failed = await fleet.connect(command["clients"])
            missing = await fleet.wait_reached("participants", command["participants"],
                                               command["timeout"])
            pipe.send({"failed": failed, "incomplete": missing,
                       "seconds": time.monotonic() - started})
        elif name == "run":
            assert fleet is not None
            fleet.window = (command["lo"], command["hi"])
            await fleet.run_authors(command["t0"], command["duration"], command["rate"],
                             command["seed"])
            # Edits made while a push was in flight go out after its confirmation, so the
            # room's final version is the number of edits made, not of those pushed yet.
            pipe.send({"made": fleet.stats.made, "made_by_room": dict(fleet.stats.made_by_room)})
        elif name == "drain":
            assert fleet is not None
            behind = await fleet.wait_reached("version", command["final"], command["timeout"])
            stats = fleet.stats
            pipe.send({"behind": behind, "delivery": dict(stats.delivery),
                       "confirm": dict(stats.confirm),
                       "delivered_in_window": stats.delivered_in_window,
                       "pushes_in_window": stats.pushes_in_window,
                       "updates_in_window": stats.updates_in_window,
                       "errors": dict(stats.errors), "out_of_order": stats.out_of_order,
                       "closed": dict(stats.closed),
                       "frames_in": sum(e.sock.frames_in for e in fleet.editors if e.sock),
                       "bytes_in": sum(e.sock.bytes_in for e in fleet.editors if e.sock)})
        elif name == "close":
            if fleet is not None:
                fleet.close()
                fleet = None
            pipe.send({"closed": True})
        elif name == "exit":
            return


def worker_main(pipe: Connection) -> None:
    """The entry point of a worker process (multiprocessing target)."""
    raise_fd_limit()
    asyncio.run(serve(pipe))
