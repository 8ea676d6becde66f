"""The rooms of this process: create, load on demand, unload when idle, delete, sweep.

Loading replays at most `keyframe_interval` updates on top of the latest keyframe
(server/store.py); the authority keeps `history_updates` of them for rebasing stale pushes.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from editor_core.authority import Authority, Update
from editor_core.changeset import ChangeSet
from editor_core.close_codes import CloseCode
from editor_core.errors import Busy
from editor_core.positions import normalize_newlines, utf16_length
from server import models
from server.clock import iso, now_iso
from server.config import Settings
from server.connection import Connection
from server.errors import RoomNotFound
from server.links import Links
from server.relay import RelayRoom
from server.room import Room
from server.services import Services
from server.store import RoomRecord

if TYPE_CHECKING:
    from server.cluster import Cluster

log = logging.getLogger("pairpad.hub")

ROOM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Hub:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.rooms: dict[str, Room] = {}
        self._loading: dict[str, asyncio.Task[Room | None]] = {}
        # Set in a multi-process deployment (server/cluster.py): rooms are owned by one
        # process at a time; the others relay.
        self.cluster: Cluster | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.links = Links(self)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    async def create(self, name: str | None, code: str) -> models.Room:
        """Store a new room; it is what `POST /rooms` answers."""
        store = self.services.store
        if await store.count_rooms() >= self.settings.max_rooms:
            raise Busy("the room limit is reached", retry_after_ms=60_000)
        text = normalize_newlines(code)
        created = now_iso()
        # 128 bits of randomness, URL-safe (docs/protocol.md "Conventions": a capability).
        record = RoomRecord(secrets.token_urlsafe(16), name or "Untitled", "python", 0,
                            utf16_length(text), created, created)
        await store.create_room(record, text)
        self.services.metrics.rooms_created.inc()
        log.info("event=room.created room=%s length=%d", record.room_id, record.code_length)
        if self.cluster is None:  # keep it loaded: its first editor arrives in a moment
            self._make_room(record, Authority(text, 0, (), **self._authority_options()), None)
        return models.Room(room_id=record.room_id, name=record.name, language=record.language,
                           code=text, version=0, created_at=created)

    def _authority_options(self) -> dict[str, Any]:
        return {"keep_updates": self.settings.history_updates,
                "max_length": self.settings.max_document_length}

    def _make_room(self, record: RoomRecord, authority: Authority,
                   last_run: dict[str, Any] | None) -> Room:
        room = Room(self.services, record, authority, last_run, self.forget)
        room.idle_since = asyncio.get_running_loop().time()
        self.rooms[record.room_id] = room
        self.services.metrics.rooms_loaded.set(len(self.rooms))
        return room

    def forget(self, room: Room) -> None:
        if self.rooms.get(room.room_id) is room:
            del self.rooms[room.room_id]
            self.spawn(room.stop_diagnostics())
            self.services.metrics.rooms_loaded.set(len(self.rooms))
            if self.cluster is not None:
                self.cluster.forget_remote(room.room_id)
                self.spawn(self.cluster.bus.release(room.room_id))

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def get(self, room_id: str) -> Room | RelayRoom:
        """The room: loaded here (on first use), or, in a deployment whose other process owns
        it, the relay to that process. `RoomNotFound` if none."""
        room = self.rooms.get(room_id)
        if room is not None:
            return room
        if not ROOM_ID.match(room_id):
            raise RoomNotFound(f"room {room_id!r} does not exist")
        cluster = self.cluster
        if cluster is not None:
            relay = cluster.relays.get(room_id)
            if relay is not None and not relay.failed:
                return relay
            if await self.services.store.get_room(room_id) is None:
                raise RoomNotFound(f"room {room_id!r} does not exist")
            owner = await cluster.owner_of(room_id)
            if owner != cluster.id:
                return cluster.relay(room_id, owner)
            room = self.rooms.get(room_id)  # loaded by another request while we awaited
            if room is not None:
                return room
        task = self._loading.get(room_id)
        if task is None:
            task = asyncio.create_task(self._load(room_id))
            self._loading[room_id] = task
            task.add_done_callback(lambda _: self._loading.pop(room_id, None))
        loaded = await asyncio.shield(task)
        if loaded is None:
            raise RoomNotFound(f"room {room_id!r} does not exist")
        return loaded

    async def _load(self, room_id: str) -> Room | None:
        store = self.services.store
        try:
            # Fence any earlier owner before reading (docs/deploy.md): its later writes fail.
            await store.claim(room_id)
            loaded = await store.load_room(room_id)
        except Exception:  # e.g. the store is down: let the next request, anywhere, load it
            if self.cluster is not None:
                await self.cluster.bus.release(room_id)
            raise
        if loaded is None:
            if self.cluster is not None:
                await self.cluster.bus.release(room_id)
            return None
        record = loaded.record
        text = loaded.keyframe_text
        history: list[Update] = []
        for stored in loaded.updates:
            update = Update(stored.client_id, ChangeSet.from_json(stored.changes))
            if stored.version > loaded.keyframe_version:
                text = update.changes.apply(text)
            history.append(update)
        authority = Authority(text, record.version, history, **self._authority_options())
        runs = await store.recent_runs(room_id, 1)
        log.info("event=room.loaded room=%s version=%d replayed=%d", room_id, record.version,
                 record.version - loaded.keyframe_version)
        return self._make_room(record, authority, runs[0] if runs else None)

    def loading(self, room_id: str) -> asyncio.Task[Room | None] | None:
        """The load of `room_id` in progress here, if any."""
        return self._loading.get(room_id)

    def connection_count(self) -> int:
        """WebSockets open on this process (a relayed room's included)."""
        local = sum(1 for room in self.rooms.values() for peer in room.connections.values()
                    if isinstance(peer, Connection))
        relayed = sum(len(relay.connections) for relay in self.cluster.relays.values()) \
            if self.cluster is not None else 0
        return local + relayed

    async def state(self, room_id: str) -> dict[str, Any]:
        """`GET /rooms/{roomId}`, answered by whichever process owns the room."""
        room = await self.get(room_id)
        if isinstance(room, Room):
            return room.session.state()
        return await self._cluster().state(room, "state")

    async def restore(self, room_id: str, text: str, author: str) -> tuple[int | None, int]:
        """Make the room's document `text` as one update by `author`, on the room's owner
        (docs/protocol.md `POST /rooms/{roomId}/restore`): the version the restore made (None:
        the document already was `text`) and the room's version after it."""
        room = await self.get(room_id)
        if isinstance(room, Room):
            made = await room.restore(text, author)
            return made, room.session.version
        return await self._cluster().restore(room, text, author)

    async def describe(self, room_id: str) -> dict[str, Any]:
        """The admin view of a room (without its recent runs), from its owner."""
        room = await self.get(room_id)
        if isinstance(room, Room):
            return room.describe()
        return await self._cluster().state(room, "admin")

    def _cluster(self) -> Cluster:
        if self.cluster is None:
            raise RuntimeError("a relay without a cluster")
        return self.cluster

    async def peek(self, room_id: str) -> RoomRecord | Room:
        """A loaded room, or just its stored record (admin listing does not load rooms)."""
        room = self.rooms.get(room_id)
        if room is not None:
            return room
        record = await self.services.store.get_room(room_id) if ROOM_ID.match(room_id) else None
        if record is None:
            raise RoomNotFound(f"room {room_id!r} does not exist")
        return record

    async def delete(self, room_id: str) -> None:
        target = await self.peek(room_id)
        if isinstance(target, Room):
            self.forget(target)
            await target.end_run()
            target.close_all(CloseCode.DELETED, "room deleted")
            await target.settle()
        if self.cluster is not None:
            self.cluster.deleted(room_id)
        await self.services.store.delete_room(room_id)
        log.info("event=room.deleted room=%s", room_id)

    async def sweep(self, now: float | None = None, wall: datetime | None = None) -> None:
        """Unload idle rooms from memory; delete rooms idle past `room_idle_days`. `now` (loop
        time) and `wall` (UTC) default to the present; tests pass them to be exact."""
        loop_now = asyncio.get_running_loop().time() if now is None else now
        for room in list(self.rooms.values()):
            idle = room.idle_since
            if (room.unloadable and idle is not None
                    and loop_now - idle >= self.settings.unload_after_seconds):
                self.forget(room)
                log.info("event=room.unloaded room=%s", room.room_id)
        if self.cluster is not None:
            relays = self.cluster.relays
            for room_id, relay in list(relays.items()):
                idle = relay.idle_since
                if relay.failed or (relay.unloadable and idle is not None and
                                    loop_now - idle >= self.settings.unload_after_seconds):
                    del relays[room_id]
        days = self.settings.room_idle_days
        if days > 0:
            cutoff = iso((wall or datetime.now(UTC)) - timedelta(days=days))
            for room_id in await self.services.store.idle_rooms(cutoff):
                loaded = self.rooms.get(room_id)
                if loaded is not None and loaded.connections:
                    continue
                await self.delete(room_id)
                log.info("event=room.expired room=%s", room_id)

    async def run_sweeper(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)  # a periodic job's cadence, not a synchronization
            try:
                await self.sweep()
            except Exception:
                log.exception("event=sweep.failed")

    async def shutdown(self) -> None:
        """Release run locks, close every WebSocket with 1001, wait for every commit."""
        rooms = list(self.rooms.values())
        await asyncio.gather(*(room.end_run() for room in rooms))
        for room in rooms:
            room.close_all(CloseCode.GOING_AWAY, "server shutting down")
        if self.cluster is not None:
            for relay in self.cluster.relays.values():
                relay.close_all(CloseCode.GOING_AWAY, "server shutting down")
        closing = [c.closed.wait() for room in rooms for c in room.connections.values()
                   if isinstance(c, Connection)]
        if closing:
            await asyncio.wait([asyncio.ensure_future(c) for c in closing], timeout=3)
        for room in rooms:
            await room.settle()
        await asyncio.gather(*(room.stop_diagnostics() for room in rooms))
        await self.services.store.flush()
