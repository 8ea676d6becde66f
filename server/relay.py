"""Clients of a room owned by another process (docs/deploy.md "The room bus").

On the owner, a client of another process is a `RemotePeer`: the room's session treats it like
a local connection, and what it sends it goes, batched per event-loop turn, through the `Link`
to that process. On that process, `RelayRoom` stands for the room: it forwards its clients'
messages to the owner and hands them the frames that come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any, Protocol

from editor_core.close_codes import CloseCode
from editor_core.errors import ClientIdInUse, RoomFull
from server.connection import Connection
from server.errors import RoomMoved
from server.wire import SharedFrame

log = logging.getLogger("pairpad.relay")

Message = dict[str, Any]
JOIN_TIMEOUT_S = 5.0


class Sender(Protocol):
    """What the relay and the link need of the bus."""

    def send(self, to: str, message: Message) -> None: ...


class Link:
    """Owner → one relay process, for one room: frames and closes in order, one bus message
    per event-loop turn; consecutive sends of one frame carry it once with every receiver."""

    def __init__(self, bus: Sender, process: str, room_id: str) -> None:
        self.bus = bus
        self.process = process
        self.room_id = room_id
        self._items: list[Message] = []
        self._last_text: str | None = None

    def frame(self, conn_id: str, text: str) -> None:
        if self._items and self._last_text is text:
            self._items[-1]["to"].append(conn_id)
        else:
            self._push({"t": "f", "x": text, "to": [conn_id]})
            self._last_text = text

    def close(self, conn_id: str, code: int, reason: str) -> None:
        self._push({"t": "c", "to": conn_id, "code": int(code), "reason": reason})

    def reply(self, item: Message) -> None:
        self._push(item)

    def _push(self, item: Message) -> None:
        if not self._items:
            asyncio.get_running_loop().call_soon(self._flush)
        if item["t"] != "f":
            self._last_text = None
        self._items.append(item)

    def _flush(self) -> None:
        items, self._items, self._last_text = self._items, [], None
        if items:
            self.bus.send(self.process, {"t": "out", "room": self.room_id, "items": items})


class RemotePeer:
    """A connection on another process, as the owner's room sees it."""

    def __init__(self, link: Link, conn_id: str, client_id: str, name: str, remote: str,
                 connected_at: str, link_id: str | None = None) -> None:
        self.link = link
        self.conn_id = conn_id
        self.client_id = client_id
        self.name = name
        self.remote = remote
        self.connected_at = connected_at
        self.link_id = link_id

    def send(self, frame: str) -> None:
        self.link.frame(self.conn_id, frame)

    def close(self, code: int, reason: str = "") -> None:
        self.link.close(self.conn_id, code, reason)


class RelayRoom:
    """A room owned by process `owner`, as this process's clients reach it."""

    def __init__(self, bus: Sender, owner: str, room_id: str) -> None:
        self.bus = bus
        self.owner = owner
        self.room_id = room_id
        self.failed = False
        self.idle_since: float | None = None
        self._local: dict[str, Connection] = {}
        self._ids: dict[Connection, str] = {}
        self._joining: dict[str, asyncio.Future[str | None]] = {}

    @property
    def connections(self) -> dict[str, Connection]:
        return {conn.client_id: conn for conn in self._local.values()}

    async def join(self, conn: Connection) -> None:
        """Ask the owner to take `conn` in; its `init` comes back as the first frame."""
        if self.failed:
            raise RoomMoved("the room moved to another process")
        conn_id = secrets.token_hex(8)
        self._local[conn_id] = conn
        self._ids[conn] = conn_id
        joined: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._joining[conn_id] = joined
        self.bus.send(self.owner, {"t": "join", "room": self.room_id, "conn": conn_id,
                                   "client": conn.client_id, "name": conn.name,
                                   "remote": conn.remote, "at": conn.connected_at,
                                   "link": conn.link_id})
        try:
            error = await asyncio.wait_for(joined, JOIN_TIMEOUT_S)
        except TimeoutError:
            error = "room_moved"
        finally:
            self._joining.pop(conn_id, None)
        if error is not None:
            self._forget(conn)
            if error == RoomFull.code:
                raise RoomFull("the room is full")
            if error == ClientIdInUse.code:
                raise ClientIdInUse("that clientId belongs to an editor of this room")
            raise RoomMoved("the room's owner did not answer")
        self.idle_since = None

    def leave(self, conn: Connection) -> None:
        conn_id = self._forget(conn)
        if conn_id is not None:  # even after a reset: the owner may still count it
            self.bus.send(self.owner, {"t": "leave", "room": self.room_id, "conn": conn_id})
        if not self._local:
            self.idle_since = asyncio.get_running_loop().time()

    def forward(self, conn: Connection, text: str) -> None:
        """A client message, already parsed and rate-limited here, for the owner to handle."""
        conn_id = self._ids.get(conn)
        if conn_id is not None and not self.failed:
            self.bus.send(self.owner, {"t": "msg", "room": self.room_id, "conn": conn_id,
                                       "text": text})

    def deliver(self, items: list[Message]) -> None:
        """What the owner sent this process's clients, in order."""
        for item in items:
            kind = item.get("t")
            if kind == "f":
                text = SharedFrame(item["x"])  # its wire bytes built once for all
                for conn_id in item["to"]:
                    conn = self._local.get(conn_id)
                    if conn is not None:
                        conn.send(text)
            elif kind == "c":
                conn = self._local.get(item["to"])
                if conn is not None:
                    conn.close(item["code"], item["reason"])
            elif kind == "moved":
                self.reset("the owner no longer serves the room")
            elif kind == "joined":
                future = self._joining.get(item["conn"])
                if future is not None and not future.done():
                    future.set_result(item.get("error"))

    def reset(self, reason: str) -> None:
        """The owner is gone or messages were lost: every client reconnects and resumes."""
        if self.failed:
            return
        self.failed = True
        log.info("event=relay.reset room=%s owner=%s clients=%d reason=%s", self.room_id,
                 self.owner, len(self._local), reason)
        for future in self._joining.values():
            if not future.done():
                future.set_result("room_moved")
        for conn in list(self._local.values()):
            conn.close(CloseCode.SERVICE_RESTART, "the room moved; reconnect")

    def close_all(self, code: int, reason: str) -> None:
        for conn in list(self._local.values()):
            conn.close(code, reason)

    @property
    def unloadable(self) -> bool:
        return not self._local

    def _forget(self, conn: Connection) -> str | None:
        conn_id = self._ids.pop(conn, None)
        if conn_id is not None:
            with contextlib.suppress(KeyError):
                del self._local[conn_id]
        return conn_id
