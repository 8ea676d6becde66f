"""A client message handed to the room that owns it (docs/protocol.md "WebSocket"): from a
local connection (server/ws.py) or from another process's (server/cluster.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from editor_core.errors import PairpadError
from server import messages
from server.errors import ws_error
from server.metrics import Metrics
from server.room import Peer, Room
from server.wire import encode

log = logging.getLogger("pairpad.ws")

_tasks: set[asyncio.Task[None]] = set()


def reply_error(metrics: Metrics, room_id: str, peer: Peer, exc: PairpadError,
                message: messages.ClientMessage | None) -> None:
    """Answer a refused message with an `error` frame (its request `id` when it had one)."""
    metrics.ws_errors.labels(exc.code).inc()
    log.info("event=ws.error room=%s client=%s code=%s", room_id, peer.client_id, exc.code)
    request_id = message.id if isinstance(message, messages.Request) else None
    peer.send(encode(ws_error(exc, request_id)))


def dispatch(room: Room, peer: Peer, message: messages.ClientMessage) -> None:
    """Hand `message` to the room; a `PairpadError` is the caller's to answer."""
    match message:
        case messages.PushMessage():
            room.push(peer, message.version, [u.changes for u in message.updates])
        case messages.PullMessage():
            room.pull(peer, message.version)
        case messages.CursorMessage():
            room.cursor(peer, message.version, message.anchor, message.head)
        case messages.RunMessage():
            room.start_run(peer, message.stdin)
        case messages.StopMessage():
            room.stop_run(peer, message.run_id)
        case messages.CompleteMessage():
            _off_the_receive_loop(_complete(room, peer, message))
        case messages.SignatureMessage() | messages.HoverMessage() | messages.DefinitionMessage():
            _off_the_receive_loop(_inspect(room, peer, message))
        case messages.PingMessage():
            peer.send('{"type":"pong"}')


def _off_the_receive_loop(request: Coroutine[Any, Any, None]) -> None:
    """Answer a request in a task of its own: pushes keep flowing while Jedi thinks."""
    task = asyncio.get_running_loop().create_task(request)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def _complete(room: Room, peer: Peer, message: messages.CompleteMessage) -> None:
    try:
        await room.complete(peer, message.id, message.version, message.position)
    except PairpadError as exc:
        reply_error(room.services.metrics, room.room_id, peer, exc, message)
    except Exception:
        log.exception("event=ws.complete_failed room=%s client=%s", room.room_id,
                      peer.client_id)


async def _inspect(room: Room, peer: Peer, message: messages.SignatureMessage
                   | messages.HoverMessage | messages.DefinitionMessage) -> None:
    try:
        await room.inspect(peer, message.type, message.id, message.version, message.position)
    except PairpadError as exc:
        reply_error(room.services.metrics, room.room_id, peer, exc, message)
    except Exception:
        log.exception("event=ws.inspect_failed room=%s client=%s kind=%s", room.room_id,
                      peer.client_id, message.type)
