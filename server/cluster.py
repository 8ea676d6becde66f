"""This process as one of a deployment's (docs/deploy.md "The room bus"): it answers the bus
for the rooms it owns and the rooms it relays, and keeps leases and liveness checked.

Owner side: `join`/`leave`/`msg` from a relay become events of the room's session, with a
`RemotePeer` for each remote connection; `state` answers `GET /rooms` asked on another process.
Relay side: `out` carries the owner's frames. Everyone: `deleted` closes a room's sockets with
4410 everywhere, `revoked` a read-only link's viewers with 4403; a lost message or subscription
resets the rooms it concerns (1012).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from editor_core.close_codes import CloseCode
from editor_core.errors import ClientIdInUse, PairpadError, RoomFull
from server import messages
from server.bus import LEASE_MS, Bus, Message
from server.dispatch import dispatch, reply_error
from server.errors import HTTP_STATUS, RoomMoved
from server.relay import Link, RelayRoom, RemotePeer

if TYPE_CHECKING:
    from server.hub import Hub

log = logging.getLogger("pairpad.cluster")

CHECK_S = 1.0
STATE_TIMEOUT_S = 5.0


class Cluster:
    def __init__(self, bus: Bus, hub: Hub) -> None:
        self.bus = bus
        self.hub = hub
        self.relays: dict[str, RelayRoom] = {}
        self._links: dict[tuple[str, str], Link] = {}
        self._remote: dict[tuple[str, str], dict[str, RemotePeer]] = {}  # (room, process)
        self._requests: dict[str, asyncio.Future[Any]] = {}
        self._waiting: dict[str, list[tuple[str, Message]]] = {}  # rooms being looked up
        self._settled: set[str] = set()  # looked up: answer what waited without looking again
        self._task: asyncio.Task[None] | None = None

    @property
    def id(self) -> str:
        return self.bus.id

    def start(self) -> None:
        self.bus.start(self._on_message, self._on_reset)
        self._task = asyncio.create_task(self._check_loop(), name="cluster-check")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.hub.links.stop_check()
        for room_id in list(self.hub.rooms):
            await self.bus.release(room_id)
        await self.bus.close()

    # -- locating a room -------------------------------------------------------------------

    async def owner_of(self, room_id: str) -> str:
        """The room's owner, which is this process if nobody held it."""
        try:
            return await self.bus.claim(room_id)
        except (RedisError, OSError) as exc:
            raise RoomMoved(f"the room bus is unavailable: {type(exc).__name__}") from None

    def relay(self, room_id: str, owner: str) -> RelayRoom:
        relay = self.relays.get(room_id)
        if relay is None or relay.failed or relay.owner != owner:
            relay = RelayRoom(self.bus, owner, room_id)
            relay.idle_since = asyncio.get_running_loop().time()
            self.relays[room_id] = relay
        return relay

    async def state(self, relay: RelayRoom, kind: str) -> dict[str, Any]:
        """Ask the owner for the room as `GET /rooms` (`kind` "state") or admin ("admin")."""
        return await self._ask(relay, {"t": "state", "kind": kind})

    async def restore(self, relay: RelayRoom, text: str, author: str) -> tuple[int | None, int]:
        """Have the owner restore `text` (`Hub.restore`); its error, if any, raised here."""
        answer = await self._ask(relay, {"t": "restore", "text": text, "author": author})
        if "error" in answer:
            code = answer["error"]
            kind = next((cls for cls in HTTP_STATUS if cls.code == code), PairpadError)
            raise kind(str(answer.get("message", code)))
        return answer["made"], int(answer["version"])

    async def _ask(self, relay: RelayRoom, message: Message) -> dict[str, Any]:
        """Send `message` about the room to its owner and wait for its `state_reply`."""
        request = secrets.token_hex(8)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._requests[request] = future
        self.bus.send(relay.owner, {**message, "room": relay.room_id, "req": request})
        try:
            answer = await asyncio.wait_for(future, STATE_TIMEOUT_S)
        except TimeoutError:
            raise RoomMoved("the room's owner did not answer") from None
        finally:
            self._requests.pop(request, None)
        if answer is None:
            raise RoomMoved("the room moved to another process")
        state: dict[str, Any] = answer
        return state

    def deleted(self, room_id: str) -> None:
        """Tell every process (this one too) that the room is gone."""
        self.bus.broadcast({"t": "deleted", "room": room_id})

    def revoked(self, room_id: str, link_id: str) -> None:
        """Tell every process that a read-only link was revoked: each closes its viewers."""
        self.bus.broadcast({"t": "revoked", "room": room_id, "link": link_id})

    # -- the bus ------------------------------------------------------------------------------

    def _on_message(self, sender: str, message: Message) -> None:
        kind = message.get("t")
        room_id = message.get("room", "")
        if kind == "out":
            relay = self.relays.get(room_id)
            if relay is not None and relay.owner == sender:
                relay.deliver(message["items"])
        elif kind in ("join", "leave", "msg"):
            self._owner_event(sender, room_id, message)
        elif kind == "state":
            self._answer_state(sender, room_id, message)
        elif kind == "restore":
            self.hub.spawn(self._answer_restore(sender, room_id, message))
        elif kind == "state_reply":
            future = self._requests.get(message["req"])
            if future is not None and not future.done():
                future.set_result(message.get("state"))
        elif kind == "deleted":
            self._close_deleted(room_id)
        elif kind == "revoked":
            self.hub.links.close_viewers(room_id, message["link"])
        elif kind == "reset" and sender != self.id:
            self._reset_process(sender, "asked by the other process")

    def _link(self, room_id: str, process: str) -> Link:
        link = self._links.get((room_id, process))
        if link is None:
            link = self._links[(room_id, process)] = Link(self.bus, process, room_id)
        return link

    def _owner_event(self, sender: str, room_id: str, message: Message) -> None:
        waiting = self._waiting.get(room_id)
        if waiting is not None:  # keep the order of what arrives while the room loads
            waiting.append((sender, message))
            return
        room = self.hub.rooms.get(room_id)
        if room is None and message["t"] != "leave" and room_id not in self._settled:
            # Not loaded here: we may hold the lease and be about to load it (the relay heard
            # of our claim before our own request resumed). Look, then answer in order.
            self._waiting[room_id] = [(sender, message)]
            self.hub.spawn(self._after_load(room_id))
            return
        conn_id = message["conn"]
        link = self._link(room_id, sender)
        if room is None or room.failed:
            # Not ours (any more): the relay resets its clients of this room, and only these.
            if message["t"] == "join":
                link.reply({"t": "joined", "conn": conn_id, "error": "room_moved"})
            elif message["t"] == "msg":
                link.reply({"t": "moved"})
            return
        peers = self._remote.setdefault((room_id, sender), {})
        if message["t"] == "join":
            current = room.session.peers.get(message["client"])
            if current is not None and current.connected_at > message.get("at", ""):
                # A join that the bus delivered after a newer connection of the same client
                # (through another process): the newer one stays; this one is long gone.
                link.reply({"t": "joined", "conn": conn_id, "error": "stale"})
                return
            joining = RemotePeer(link, conn_id, message["client"], message["name"],
                              message.get("remote", "?"), message.get("at", ""),
                              message.get("link"))
            try:
                room.join(joining)
            except (RoomFull, ClientIdInUse) as exc:
                link.reply({"t": "joined", "conn": conn_id, "error": exc.code})
                return
            peers[conn_id] = joining
            link.reply({"t": "joined", "conn": conn_id, "error": None})
        elif message["t"] == "leave":
            left = peers.pop(conn_id, None)
            if left is not None:
                room.leave(left)
        elif (peer := peers.get(conn_id)) is not None:
            parsed: messages.ClientMessage | None = None
            try:
                parsed = messages.parse(message["text"])
                dispatch(room, peer, parsed)
            except PairpadError as exc:
                reply_error(room.services.metrics, room_id, peer, exc, parsed)

    async def _after_load(self, room_id: str) -> None:
        """Load the room if this process owns it (or is loading it), then handle what waited
        for that; a room owned elsewhere answers "moved"."""
        try:
            loading = self.hub.loading(room_id)
            if loading is not None:
                await asyncio.shield(loading)
            elif (await self.bus.owners([room_id])).get(room_id) == self.id:
                await self.hub.get(room_id)
        except Exception:  # a failed load answers "moved" below
            log.info("event=cluster.load_failed room=%s", room_id)
        self._settled.add(room_id)
        try:
            for sender, message in self._waiting.pop(room_id, []):
                self._owner_event(sender, room_id, message)
        finally:
            self._settled.discard(room_id)

    def _answer_state(self, sender: str, room_id: str, message: Message) -> None:
        room = self.hub.rooms.get(room_id)
        state: dict[str, Any] | None = None
        if room is not None and not room.failed:
            state = room.session.state() if message.get("kind") == "state" else room.describe()
        self.bus.send(sender, {"t": "state_reply", "req": message["req"], "state": state})

    async def _answer_restore(self, sender: str, room_id: str, message: Message) -> None:
        answer: dict[str, Any] | None = None
        loading = self.hub.loading(room_id)
        try:
            if loading is not None:  # we took the lease and are loading it
                await asyncio.shield(loading)
            room = self.hub.rooms.get(room_id)
            if room is not None and not room.failed:
                made = await room.restore(message["text"], message["author"])
                answer = {"made": made, "version": room.session.version}
        except PairpadError as exc:
            answer = {"error": exc.code, "message": exc.message}
        except Exception:  # a failed load or commit: the relay answers room_moved
            log.exception("event=cluster.restore_failed room=%s", room_id)
        self.bus.send(sender, {"t": "state_reply", "req": message["req"], "state": answer})

    def _close_deleted(self, room_id: str) -> None:
        room = self.hub.rooms.get(room_id)
        if room is not None:
            self.hub.forget(room)  # releases the lease
            room.close_all(CloseCode.DELETED, "room deleted")
            self.hub.spawn(room.end_run())
        relay = self.relays.pop(room_id, None)
        if relay is not None:
            relay.failed = True
            relay.close_all(CloseCode.DELETED, "room deleted")

    # -- losing messages, processes, leases ---------------------------------------------------

    def _on_reset(self, sender: str | None) -> None:
        """Messages from `sender` (None: from anyone) may have been lost."""
        self._reset_process(sender, "messages lost")
        if sender is not None:
            self.bus.send(sender, {"t": "reset"})
        else:  # we may have missed anything from anyone: everyone forgets our clients
            self.bus.broadcast({"t": "reset"})

    def _reset_process(self, process: str | None, reason: str) -> None:
        for (room_id, peer_process), peers in list(self._remote.items()):
            if process is None or peer_process == process:
                del self._remote[(room_id, peer_process)]
                room = self.hub.rooms.get(room_id)
                if room is not None:
                    for peer in peers.values():
                        room.leave(peer)
        for room_id, relay in list(self.relays.items()):
            if process is None or relay.owner == process:
                relay.reset(reason)
                del self.relays[room_id]

    def forget_remote(self, room_id: str) -> None:
        for key in [k for k in self._remote if k[0] == room_id]:
            del self._remote[key]
        for key in [k for k in self._links if k[0] == room_id]:
            del self._links[key]

    async def _check_loop(self) -> None:
        last_ok = time.monotonic()
        while True:
            await asyncio.sleep(CHECK_S)  # the cadence of lease renewal and liveness checks
            try:
                await self._check()
                last_ok = time.monotonic()
            except (RedisError, OSError) as exc:
                log.warning("event=cluster.check_failed error=%s", type(exc).__name__)
                if time.monotonic() - last_ok > LEASE_MS / 1000 * 0.8:
                    # Our leases may have expired: stop serving rooms we can't vouch for.
                    for room in list(self.hub.rooms.values()):
                        room.fail(CloseCode.SERVICE_RESTART, "lost the room bus")
                    self._reset_process(None, "lost the room bus")

    async def summaries(self, room_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The admin summaries the owners of these rooms published (rooms nobody serves are
        missing: the store's record describes them)."""
        try:
            found = await self.bus.summaries(room_ids)
        except (RedisError, OSError):
            return {}
        return {room_id: json.loads(text) for room_id, text in found.items()}

    async def _check(self) -> None:
        self.hub.links.start_check()  # in case a `revoked` message was lost
        lost = await self.bus.renew(list(self.hub.rooms))
        await self.bus.publish_summaries({
            room_id: json.dumps(room.summary()) for room_id, room in self.hub.rooms.items()
            if room_id not in lost})
        for room_id in lost:
            room = self.hub.rooms.get(room_id)
            if room is not None:
                room.fail(CloseCode.SERVICE_RESTART, "lost the room's lease")
        owners = await self.bus.owners(list(self.relays))
        for room_id, owner in owners.items():
            relay = self.relays.get(room_id)
            if relay is not None and owner != relay.owner:
                relay.reset("the owner changed")
                del self.relays[room_id]
        processes = {process for (_, process) in self._remote}
        for process, alive in (await self.bus.alive(processes)).items():
            if not alive:
                log.info("event=cluster.process_gone process=%s", process)
                self._reset_process(process, "process gone")
