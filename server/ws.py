"""The WebSocket endpoints: `/ws/{roomId}/{clientId}?name=` (docs/protocol.md "WebSocket: …")
and a viewer's `/ws/view/{linkId}/{clientId}?name=` ("Read-only links").

Reads frames, parses each into a message (server/messages.py) and hands it to the room. A bad
message gets an `error` reply and the connection stays open (guarantee 4: liveness)."""

from __future__ import annotations

import asyncio
import logging
import re
import time

from starlette.websockets import WebSocket

from editor_core.close_codes import CloseCode
from editor_core.errors import ClientIdInUse, PairpadError, RoomFull
from server import messages
from server.clock import now_iso
from server.connection import Connection, TokenBucket
from server.dispatch import dispatch, reply_error
from server.errors import (
    LinkNotFound,
    LinkRevoked,
    RateLimited,
    RoomMoved,
    RoomNotFound,
    StoreUnavailable,
)
from server.hub import Hub
from server.models import printable_name
from server.relay import RelayRoom
from server.room import Room

log = logging.getLogger("pairpad.ws")

CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_NAME = 64


def valid_name(name: str) -> bool:
    return 0 < len(name) <= MAX_NAME and printable_name(name)


async def websocket_endpoint(websocket: WebSocket) -> None:
    """An editor: `/ws/{roomId}/{clientId}?name=`."""
    hub: Hub = websocket.app.state.hub
    conn = await _accept(websocket, hub, websocket.path_params["room_id"])
    if conn is not None:
        await _serve(websocket, hub, conn)


async def viewer_endpoint(websocket: WebSocket) -> None:
    """A viewer of a read-only link: `/ws/view/{linkId}/{clientId}?name=` (docs/protocol.md
    "Read-only links"). Closed with 4404 for an unknown link, 4403 for a revoked one."""
    hub: Hub = websocket.app.state.hub
    link_id = websocket.path_params["link_id"]
    conn = await _accept(websocket, hub, "", link_id)
    if conn is None:
        return
    hub.links.watch(link_id, conn)  # before resolving: a revocation from now on finds it
    try:
        try:
            link = await hub.links.resolve(link_id)
        except LinkRevoked:
            await websocket.close(CloseCode.REVOKED, "the link was revoked")
            return
        except LinkNotFound:
            await websocket.close(CloseCode.NOT_FOUND, "link not found")
            return
        except StoreUnavailable:
            await websocket.close(CloseCode.INTERNAL_ERROR, "the store is unavailable; reconnect")
            return
        conn.room_id = link.room_id
        await _serve(websocket, hub, conn)
    finally:
        hub.links.unwatch(link_id, conn)


async def _accept(websocket: WebSocket, hub: Hub, room_id: str,
                  link_id: str | None = None) -> Connection | None:
    """Accept the socket; its `Connection`, or None once closed for a bad clientId or name."""
    client_id = websocket.path_params["client_id"]
    name = websocket.query_params.get("name", "Anonymous")
    await websocket.accept()
    if not CLIENT_ID.match(client_id) or not valid_name(name):
        await websocket.close(CloseCode.BAD_REQUEST, "bad clientId or name")
        return None
    client = websocket.client
    remote = f"{client.host}:{client.port}" if client else "unknown"
    # Nothing reads the handshake's headers after this (the name and ids are read, the client
    # address is in the scope): drop them for the socket's life, 1-3 KiB of every connection
    # (docs/performance-collab.md "Idle connections").
    websocket.scope["headers"] = []
    return Connection(websocket, room_id, client_id, name.strip(), remote, now_iso(),
                      hub.services.settings.send_queue, link_id)


async def _serve(websocket: WebSocket, hub: Hub, conn: Connection) -> None:
    """Join the room, then read frames until the socket closes."""
    room_id, client_id = conn.room_id, conn.client_id
    try:
        room = await hub.get(room_id)
        if conn.closing:  # a viewer whose link was revoked meanwhile
            await websocket.close(CloseCode.REVOKED, "the link was revoked")
            return
        if isinstance(room, RelayRoom):
            await room.join(conn)
        else:
            room.join(conn)
    except RoomNotFound:
        await websocket.close(CloseCode.NOT_FOUND, "room not found")
        return
    except RoomFull:
        await websocket.close(CloseCode.FULL, "room is full")
        return
    except ClientIdInUse:
        await websocket.close(CloseCode.BAD_REQUEST, "clientId in use by an editor")
        return
    except RoomMoved:
        await websocket.close(CloseCode.SERVICE_RESTART, "the room moved; reconnect")
        return
    except StoreUnavailable as exc:  # the database restarts: the client retries with backoff
        log.warning("event=ws.store_unavailable room=%s client=%s error=%r", room_id,
                    client_id, exc.message)
        await websocket.close(CloseCode.INTERNAL_ERROR, "the store is unavailable; reconnect")
        return
    metrics = hub.services.metrics
    metrics.connections.inc()
    started = time.monotonic()
    log.info("event=ws.connect room=%s client=%s participants=%d", room_id, client_id,
             len(room.connections))
    conn.start()
    try:
        await _receive_loop(websocket, hub, room, conn)
    except asyncio.CancelledError:
        # A peer dropped as too slow is not reading, so it may never send its close either:
        # the connection cancels this receive loop; anything else is a real cancellation.
        task = asyncio.current_task()
        if not conn.dropped or task is None:
            raise
        task.uncancel()
    finally:
        room.leave(conn)
        await conn.stop()
        metrics.connections.dec()
        log.info("event=ws.disconnect room=%s client=%s seconds=%.1f", room_id, client_id,
                 time.monotonic() - started)


async def _receive_loop(websocket: WebSocket, hub: Hub, room: Room | RelayRoom,
                        conn: Connection) -> None:
    settings = hub.services.settings
    metrics = hub.services.metrics
    bucket = TokenBucket(settings.messages_per_second, settings.message_burst, time.monotonic())
    while not conn.closing:
        message: messages.ClientMessage | None = None
        event = await websocket.receive()
        if event["type"] == "websocket.disconnect":
            return
        text = event.get("text")
        if text is None:
            raw = event.get("bytes") or b""
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = ""
        try:
            wait = bucket.take(time.monotonic())
            if wait > 0:
                raise RateLimited("too many messages", retry_after_ms=int(wait * 1000) + 1)
            message = messages.parse(text)
            metrics.messages_in.labels(message.type).inc()
            if isinstance(room, RelayRoom):
                room.forward(conn, text)  # the owner answers, errors included
                continue
            handled = time.perf_counter()
            dispatch(room, conn, message)
            log.debug("event=ws.%s room=%s client=%s ms=%.2f", message.type, room.room_id,
                      conn.client_id, (time.perf_counter() - handled) * 1000)
        except PairpadError as exc:
            reply_error(metrics, room.room_id, conn, exc, message)
        if room.failed:
            return
