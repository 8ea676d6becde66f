"""Simulated editors over real sockets: a `tests.collab_client.CollabClient` wired to a
`websockets` connection the way `@codemirror/collab`'s plugin is wired in the browser.

Each `SimEditor` follows docs/protocol.md "Editing" to the letter:

- one push in flight: it pushes every unconfirmed change, then waits until a `code_update`
  confirms all of them before it pushes again;
- it feeds every `code_update` to the model and sends `pull` from its synced version when one
  starts above it (one such pull outstanding per synced version);
- on reconnect it opens a new socket with the *same* `clientId`, sends `pull` from its synced
  version, then pushes its unconfirmed changes again (the server skips what it already has);
- it sends its cursor only when none of its changes is unconfirmed, and checks that the
  cursors it receives at its synced version lie inside its document.

Every update any editor receives is entered into a shared `LogView` by version, so two editors
that were told different things about the same version fail the run at once. Anything the
server says that the contract does not allow raises `ContractViolation` with the frame.

Nothing here sleeps to synchronize: editors wait on frames and events; the only sleep is the
simulated user's typing cadence, which nothing waits on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from editor_core.changeset import ChangeSet
from editor_core.close_codes import CloseCode
from editor_core.errors import PairpadError
from editor_core.positions import utf16_length
from tests.collab_client import CollabClient
from tests.core.random_changes import boundaries, random_change, rng_pick

Frame = dict[str, Any]

# docs/protocol.md "Errors and closing": a client does not reconnect after these.
FINAL_CLOSE_CODES = frozenset(
    {CloseCode.BAD_REQUEST, CloseCode.NOT_FOUND, CloseCode.REPLACED, CloseCode.DELETED}
)
MAX_CONNECT_FAILURES = 20


class ContractViolation(AssertionError):
    """The server did something docs/protocol.md does not allow."""


# -- REST, off the event loop ------------------------------------------------------------------


def _http_json(method: str, url: str, body: Frame | None = None) -> Frame:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        result: Frame = json.loads(response.read())
        return result


async def create_room(base_url: str, code: str) -> Frame:
    return await asyncio.to_thread(_http_json, "POST", f"{base_url}/rooms",
                                   {"name": "live", "code": code})


async def get_room(base_url: str, room_id: str) -> Frame:
    return await asyncio.to_thread(_http_json, "GET", f"{base_url}/rooms/{room_id}")


# -- what every editor was told ------------------------------------------------------------------


class LogView:
    """The room's log as the editors saw it: version → (clientId, changes JSON).

    `version` is the room's version *after* the update (1 for the first update of a room)."""

    def __init__(self) -> None:
        self.updates: dict[int, tuple[str, str]] = {}
        self.top = 0  # the highest version any editor was sent
        self._waiters: list[tuple[int, asyncio.Event]] = []

    async def reached(self, version: int) -> None:
        """Return once some editor was sent update number `version`."""
        if self.top < version:
            event = asyncio.Event()
            self._waiters.append((version, event))
            await event.wait()

    def record(self, frame: Frame, seen_by: str) -> None:
        base = frame["version"]
        for offset, update in enumerate(frame["updates"]):
            version = base + offset + 1
            entry = (update["clientId"], json.dumps(update["changes"]))
            known = self.updates.setdefault(version, entry)
            if known != entry:
                raise ContractViolation(
                    f"{seen_by} got {entry} as update {version}; another editor got {known}")
            self.top = max(self.top, version)
        for wanted, event in self._waiters:
            if wanted <= self.top:
                event.set()


class Crowd:
    """The editors of one run: knows when all typing is over and what the final version is."""

    def __init__(self, log: LogView) -> None:
        self.log = log
        self.editors: list[SimEditor] = []
        self.target: int | None = None  # the number of distinct updates, once all typed

    def typed_all(self) -> None:
        if all(e.typing_done for e in self.editors):
            self.target = sum(e.made for e in self.editors)
            for editor in self.editors:
                editor.check_synced()


async def pull_log(ws_url: str, room_id: str, client_id: str = "checker",
                   ) -> tuple[Frame, list[Frame]]:
    """A fresh connection's `init`, and the room's whole log (`pull` from version 0)."""
    async with connect(f"{ws_url}/ws/{room_id}/{client_id}?name=checker", proxy=None,
                       open_timeout=10, max_size=None) as ws:
        init = json.loads(await ws.recv())
        if init["type"] != "init":
            raise ContractViolation(f"first frame is not init: {init}")
        await ws.send(json.dumps({"type": "pull", "version": 0}))
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "code_update" and frame["version"] == 0:
                # The reply to our pull covers at least up to init's version.
                if len(frame["updates"]) < init["version"]:
                    raise ContractViolation(
                        f"pull from 0 returned {len(frame['updates'])} updates; init said "
                        f"version {init['version']}")
                updates: list[Frame] = frame["updates"]
                return init, updates
            if frame["type"] == "error":
                raise ContractViolation(f"pull from 0 sent; expected its code_update; got {frame}")


def replay(code: str, updates: list[Frame]) -> str:
    for update in updates:
        code = ChangeSet.from_json(update["changes"]).apply(code)
    return code


# -- one editor ----------------------------------------------------------------------------------


class SimEditor:
    """A person typing `edits` random changes, dropping the connection after some of them."""

    def __init__(self, crowd: Crowd, ws_url: str | Sequence[str], room_id: str, client_id: str,
                 seed: int, *,
                 edits: int, drop_after: frozenset[int] = frozenset(),
                 think_s: float = 0.03,
                 reachable: Callable[[], Awaitable[object]] | None = None,
                 hold: tuple[int, asyncio.Event] | None = None) -> None:
        self.crowd = crowd
        # Several servers (processes of one deployment): each connect picks one at random.
        bases = [ws_url] if isinstance(ws_url, str) else list(ws_url)
        self.urls = [f"{base}/ws/{room_id}/{client_id}?name={client_id}" for base in bases]
        self.client_id = client_id
        self.rng = random.Random(seed)
        self.edits = edits
        self.drop_after = drop_after  # drop the socket right after typing edit number k
        self.think_s = think_s
        self.reachable = reachable  # awaited before each connect (the server may be down)
        self.hold = hold  # (k, event): edit number k waits for the event
        self.model: CollabClient | None = None
        self.ready = asyncio.Event()  # the first init arrived
        self.synced = asyncio.Event()  # typed all, all confirmed, at the final version
        self.made = 0  # local changes made; each is one distinct update in the end
        self.sent_upto = 0  # the in-flight push carries local changes up to this count
        self.typing_done = False
        self.drops = 0
        self.sessions = 0
        self.ws: ClientConnection | None = None  # set while connected and past init
        self._pulled_from: int | None = None
        self._stopping = False
        crowd.editors.append(self)

    @property
    def confirmed(self) -> int:
        assert self.model is not None
        return self.made - len(self.model.unconfirmed)

    # The whole life of the editor: typing and the connection, until synced.
    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            connection = group.create_task(self._connection_loop(), name=self.client_id)
            await self._type()
            self.crowd.typed_all()
            await self.synced.wait()
            self._stopping = True
            if self.ws is not None:
                await self.ws.close()
            connection.cancel()

    async def _type(self) -> None:
        await self.ready.wait()
        assert self.model is not None
        pick = rng_pick(self.rng)
        for number in range(1, self.edits + 1):
            if self.hold is not None and number == self.hold[0]:
                await self.hold[1].wait()
            # The simulated user's typing cadence: nothing waits on this sleep.
            await asyncio.sleep(self.rng.uniform(0, self.think_s))
            change = random_change(pick, self.model.doc)
            while change.empty:
                change = random_change(pick, self.model.doc)
            self.model.local_change(change)
            self.made += 1
            await self._push()
            if number in self.drop_after:
                await self._drop()
        self.typing_done = True

    async def _drop(self) -> None:
        ws = self.ws
        if ws is None:
            return
        self.drops += 1
        self.ws = None
        if self.rng.random() < 0.5:
            ws.transport.abort()  # the network vanished: no close handshake
        else:
            await ws.close()

    async def _connection_loop(self) -> None:
        failures = 0
        while not self._stopping:
            if self.reachable is not None:
                await self.reachable()
            try:
                url = self.urls[0] if len(self.urls) == 1 else self.rng.choice(self.urls)
                async with connect(url, proxy=None, open_timeout=10, max_size=None) as ws:
                    failures = 0
                    await self._session(ws)
            except (OSError, InvalidHandshake, TimeoutError):
                failures += 1
                if failures > MAX_CONNECT_FAILURES:
                    raise
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else None
                if code in FINAL_CLOSE_CODES and not self._stopping:
                    raise ContractViolation(
                        f"{self.client_id}: the server closed our only connection with {code} "
                        f"({exc.rcvd})") from exc
            self.ws = None

    async def _session(self, ws: ClientConnection) -> None:
        self.sessions += 1
        init = json.loads(await ws.recv())
        if init.get("type") != "init":
            raise ContractViolation(f"{self.client_id}: expected init first, got {init}")
        self._pulled_from = None
        if self.model is None:
            self.model = CollabClient(self.client_id, init["code"], init["version"])
            self.ready.set()
        else:
            if init["version"] < self.model.version:
                raise ContractViolation(
                    f"{self.client_id}: reconnected at synced version {self.model.version}; "
                    f"init says the room is at {init['version']}")
            # docs/protocol.md "Editing": a reconnecting client pulls before it pushes again.
            await self._pull(ws)
        self.sent_upto = self.confirmed  # whatever was in flight is pushed again
        self.ws = ws
        await self._push()
        self.check_synced()
        while not self._stopping:
            raw = await ws.recv()
            await self._handle(ws, json.loads(raw))

    async def _pull(self, ws: ClientConnection) -> None:
        assert self.model is not None
        if self._pulled_from == self.model.version:
            return  # its answer is on the way
        self._pulled_from = self.model.version
        await ws.send(json.dumps({"type": "pull", "version": self.model.version}))

    async def _push(self) -> None:
        ws, model = self.ws, self.model
        if ws is None or model is None or self.confirmed < self.sent_upto:
            return  # offline, or one push already in flight
        version, changes = model.pending_push()
        if not changes:
            return
        self.sent_upto = self.made
        with contextlib.suppress(ConnectionClosed):  # the connection loop reconnects
            await ws.send(json.dumps({"type": "code_update", "version": version,
                                      "updates": [{"changes": c} for c in changes]}))

    async def _handle(self, ws: ClientConnection, frame: Frame) -> None:
        assert self.model is not None
        kind = frame.get("type")
        if kind == "code_update":
            self.crowd.log.record(frame, self.client_id)
            try:
                fits = self.model.receive(frame["version"], frame["updates"])
            except PairpadError as exc:
                raise ContractViolation(
                    f"{self.client_id}: {frame} does not apply at synced version "
                    f"{self.model.version}: {exc}") from exc
            if not fits:
                await self._pull(ws)
            top = self.crowd.target
            if top is not None and self.model.version > top:
                raise ContractViolation(
                    f"{self.client_id}: at version {self.model.version} after {frame}; only "
                    f"{top} distinct updates were made")
            await self._push()
            await self._maybe_send_cursor(ws)
            self.check_synced()
        elif kind == "cursor":
            self._check_cursor(frame)
        elif kind == "error":
            raise ContractViolation(f"{self.client_id}: unexpected error frame {frame}")
        elif kind == "init":
            raise ContractViolation(f"{self.client_id}: a second init on one connection {frame}")

    async def _maybe_send_cursor(self, ws: ClientConnection) -> None:
        # docs/protocol.md "Presence, runs, completions": a cursor is sent only when none of
        # our changes is unconfirmed, so the positions are valid in the server's document at
        # our synced version.
        model = self.model
        if model is None or model.unconfirmed or self.rng.random() < 0.7:
            return
        points = boundaries(model.doc)
        anchor, head = self.rng.choice(points), self.rng.choice(points)
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps({"type": "cursor", "version": model.version,
                                      "anchor": anchor, "head": head}))

    def _check_cursor(self, frame: Frame) -> None:
        """Another editor's cursor: at our synced version (and with nothing of ours pending, so
        our document is the server's) its positions must lie inside our document."""
        model = self.model
        assert model is not None
        if frame["anchor"] < 0 or frame["head"] < 0:
            raise ContractViolation(f"{self.client_id}: negative cursor position {frame}")
        if frame["version"] == model.version and not model.unconfirmed:
            length = utf16_length(model.doc)
            if frame["anchor"] > length or frame["head"] > length:
                raise ContractViolation(
                    f"{self.client_id}: {frame} lies outside the document at version "
                    f"{model.version} ({length} units)")

    def check_synced(self) -> None:
        model, target = self.model, self.crowd.target
        if (model is not None and target is not None and self.typing_done
                and not model.unconfirmed and model.version == target):
            self.synced.set()
