"""uvicorn's websockets-sansio protocol without what only the opening handshake needs, for the
connection's whole life (docs/performance-collab.md "Idle connections"): an idle connection
costs its protocol object, so every KiB kept here is a KiB times every open socket."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn._types import ASGIReceiveEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import Protocol, State
from websockets.server import ServerProtocol
from websockets.streams import StreamReader

from server.keepalive import wheel


class Inbox:
    """What the protocol needs of its `asyncio.Queue` (`put_nowait`, `empty`, and `waiter` with
    `take` in place of `get`), for its one reader (`LeanWebSocketProtocol.receive`), without
    the four deques and the Event a Queue allocates up front: ~3 KiB of every idle
    connection."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: list[ASGIReceiveEvent] = []
        self._waiter: asyncio.Future[None] | None = None

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: ASGIReceiveEvent) -> None:
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def waiter(self) -> asyncio.Future[None] | None:
        """None when an item is there to take, else a future to await first. Plain, not a
        coroutine: the reader awaits it in its own frame (`LeanWebSocketProtocol.receive`)."""
        if self._items:
            return None
        if self._waiter is None or self._waiter.done():  # done: a cancelled reader's
            self._waiter = asyncio.get_running_loop().create_future()
        return self._waiter

    def take(self) -> ASGIReceiveEvent:
        return self._items.pop(0)  # uvicorn pauses reading at one message: the list stays short


class Gate:
    """What the protocol needs of its `writable` asyncio.Event (`set`, `clear`, `is_set`,
    `wait`) without the waiter deque an Event allocates up front; a future only while the
    transport's buffer is full."""

    __slots__ = ("_future", "_open")

    def __init__(self) -> None:
        self._open = True
        self._future: asyncio.Future[None] | None = None

    def is_set(self) -> bool:
        return self._open

    def set(self) -> None:
        self._open = True
        if self._future is not None:
            if not self._future.done():
                self._future.set_result(None)
            self._future = None

    def clear(self) -> None:
        self._open = False

    async def wait(self) -> None:
        if self._open:
            return
        if self._future is None:
            self._future = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._future)  # a cancelled waiter leaves the others waiting


# The ASGI scope extension through which the app writes frames it already encoded.
WRITE_FRAME = "pairpad.write_frame"

WriteFrame = Callable[[bytes], bool]


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """Once the 101 response is written, drop the handshake's request and response (uvicorn
    reads them only before `websocket.accept`; the ASGI scope already holds what the app reads)
    and the parser frame that still references the request.

    And offer the app `write_frame` in the scope's extensions (`WRITE_FRAME`): a frame encoded
    once for every receiver of a broadcast goes to the transport without an ASGI message, a
    task switch or websockets framing it again per receiver."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inbox = Inbox()
        self.queue = self.inbox  # type: ignore[assignment]
        self.writable = Gate()  # type: ignore[assignment]
        self.ping_due: int | None = None  # server/keepalive.py

    async def receive(self) -> ASGIReceiveEvent:
        # uvicorn's `receive` with the inbox's wait inlined: one suspended frame per idle
        # connection instead of two.
        inbox = self.inbox
        while (waiter := inbox.waiter()) is not None:
            await waiter
        message = inbox.take()
        if self.read_paused and inbox.empty():
            self.read_paused = False
            self.transport.resume_reading()
        return message

    def schedule_ping(self) -> None:
        # uvicorn's own `call_later` per connection, on the loop's shared wheel instead.
        assert self.ping_interval is not None
        wheel(self.loop).add(self, max(0.0, self.ping_interval - self.last_ping_rtt))

    def stop_keepalive(self) -> None:
        wheel(self.loop).discard(self)
        super().stop_keepalive()

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # not set when the handshake was refused
        if scope is not None:
            scope["extensions"][WRITE_FRAME] = self.write_frame

    def write_frame(self, wire: bytes) -> bool:
        """Write one complete frame now; False, writing nothing, when it must go through the
        ASGI send instead: not open (or closing), the transport's buffer full (the caller
        queues, and uvicorn's send waits), or an extension (permessage-deflate) negotiated,
        which would have to transform the payload."""
        if (self.conn.state is not State.OPEN or self.close_sent or self.disconnected
                or self.conn.extensions
                or not self.writable.is_set() or self.transport.is_closing()):
            return False
        self.transport.write(wire)
        return True

    def start_keepalive(self) -> None:
        # uvicorn calls this once, right after it wrote the accepted handshake's response.
        super().start_keepalive()
        self.__dict__.pop("request", None)
        self.__dict__.pop("response", None)
        restart_parser(self.conn)


def restart_parser(conn: ServerProtocol) -> bool:
    """websockets' server parser is one generator that parsed the request and then reads
    frames, so its frame holds the request for the connection's life. While it waits for a
    frame's first byte with nothing buffered (always after a client that waits for the 101, as
    RFC 6455 section 4.1 asks), a fresh frame parser is the same state: swap it in, as
    websockets itself swaps in `discard()` at closing. True if swapped."""
    frames = getattr(conn.parser, "gi_yieldfrom", None)
    waiting = getattr(frames, "gi_yieldfrom", None)
    if (getattr(frames, "gi_code", None) is not Protocol.parse.__code__
            or getattr(waiting, "gi_code", None) is not StreamReader.at_eof.__code__
            or conn.reader.buffer or conn.reader.eof):
        return False
    conn.parser = Protocol.parse(conn)
    next(conn.parser)  # runs up to the wait for the first frame, where the old one stood
    return True
