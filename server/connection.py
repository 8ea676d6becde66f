"""One WebSocket peer: frames written straight to its socket while it takes them, else a bounded
send queue drained by its own sender task (docs/architecture.md "One edit's journey", step 4).
A broadcast never waits for a peer; a peer whose queue overflows is closed with 1013 (try again
later) and never slows anyone else down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from starlette.websockets import WebSocket

from editor_core.close_codes import CloseCode
from server.wire import SharedFrame, text_frame
from server.ws_protocol import WRITE_FRAME, WriteFrame

log = logging.getLogger("pairpad.ws")



class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up. Time is a parameter (habit 6)."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(max(burst, 1))
        self.tokens = self.burst
        self.stamp = now

    def take(self, now: float) -> float:
        """Take one token; returns 0 on success, else the seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate if self.rate > 0 else 1.0


class Flag:
    """What `Connection` needs of an `asyncio.Event` (set once, waited for at shutdown), without
    the waiter deque an Event allocates up front: ~0.8 KiB of every idle connection."""

    __slots__ = ("_future", "_set")

    def __init__(self) -> None:
        self._set = False
        self._future: asyncio.Future[None] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True
        if self._future is not None and not self._future.done():
            self._future.set_result(None)

    async def wait(self) -> None:
        if self._set:
            return
        if self._future is None:
            self._future = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._future)  # a cancelled waiter leaves the others waiting


class Connection:
    def __init__(self, websocket: WebSocket, room_id: str, client_id: str, name: str,
                 remote: str, connected_at: str, max_queue: int,
                 link_id: str | None = None) -> None:
        self.websocket = websocket
        self.room_id = room_id
        self.client_id = client_id
        self.name = name
        self.remote = remote
        self.connected_at = connected_at
        self.link_id = link_id  # a viewer's read-only link (docs/protocol.md "Read-only links")
        self._max_queue = max_queue
        # A list rather than a deque: an empty deque holds a 64-slot block (~760 B), multiplied
        # by every idle connection.
        self._frames: list[str] = []
        self._close: tuple[int, str] | None = None
        self.closed = Flag()  # set once the close frame went out (or could not)
        # The sender runs only while frames or the close wait, so an idle connection holds none.
        self._task: asyncio.Task[None] | None = None
        self._receiver: asyncio.Task[Any] | None = None  # set by start()
        self._broken = False  # a send failed: the peer is gone
        self.dropped = False  # closed by the server as too slow
        # The server's direct write (server/ws_protocol.py), when it offers one.
        self._write: WriteFrame | None = websocket.scope.get("extensions", {}).get(WRITE_FRAME)

    @property
    def closing(self) -> bool:
        return self._close is not None

    def start(self) -> None:
        """Joined: from now on what cannot be written at once is sent by a sender task. The
        calling task is the receive loop, cancelled on a drop."""
        self._receiver = asyncio.current_task()
        self._wake()

    def send(self, frame: str) -> None:
        """Send an encoded frame: written at once when nothing is queued before it and the
        socket takes it, else queued; never waits. Overflow closes this connection alone."""
        if self._close is not None or self._broken:
            return
        if not self._frames and self._write is not None:
            wire = frame.wire() if isinstance(frame, SharedFrame) else text_frame(frame)
            if wire is not None and self._write(wire):
                return
        if len(self._frames) >= self._max_queue:
            log.warning("event=ws.too_slow room=%s client=%s queued=%d", self.room_id,
                        self.client_id, len(self._frames))
            self._frames.clear()
            self.dropped = True
            self.close(CloseCode.TRY_AGAIN_LATER, "send queue full")
            # Both may wait for ever on a peer that stopped reading.
            for task in (self._task, self._receiver):
                if task is not None:
                    task.cancel()
            return
        self._frames.append(frame)
        self._wake()

    def close(self, code: int, reason: str = "") -> None:
        """Send what is queued, then the close frame."""
        if self._close is None:
            self._close = (code, reason)
            self._wake()

    def _wake(self) -> None:
        """Start the sender if something waits for it and none runs (not before start())."""
        if (self._task is None and self._receiver is not None
                and (self._frames or self._close is not None)):
            self._task = asyncio.create_task(self._sender(), name=f"ws-send-{self.client_id}")

    async def _sender(self) -> None:
        # Straight to the server's ASGI send: the socket is accepted, and Starlette's
        # WebSocket.send re-checks that state on every frame (docs/performance-collab.md).
        send = self.websocket._send
        frames = self._frames
        finished = True  # the close went out, or the peer is gone
        try:
            while frames:
                # Popped once written: a direct write waits while anything is queued.
                await send({"type": "websocket.send", "text": frames[0]})
                del frames[:1]
            if self._close is None:
                finished = False  # all written: the next frame that must wait starts a sender
                return
            await self.websocket.close(*self._close)
        except Exception as exc:  # the peer is gone; the receive loop notices and cleans up
            self._broken = True
            log.debug("event=ws.send_failed room=%s client=%s error=%s", self.room_id,
                      self.client_id, type(exc).__name__)
        finally:
            self._task = None
            if finished:
                self.closed.set()

    async def stop(self) -> None:
        """Called by the endpoint once the receive loop ended."""
        task = self._task
        if task is not None:
            if self._close is None:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(task, timeout=2.0)
        self.closed.set()  # a sender cancelled before its first step never ran its `finally`
        if self._close is not None and self._close[0] == CloseCode.TRY_AGAIN_LATER:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.websocket.close(*self._close), timeout=1.0)

