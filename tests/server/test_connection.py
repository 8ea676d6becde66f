"""`Connection`'s send queue (docs/architecture.md "One edit's journey", step 4): frames go
out in order, the close frame last, and a peer that stops reading is closed with 1013
without holding anyone up."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from starlette.websockets import WebSocket

from editor_core.close_codes import CloseCode
from server.connection import Connection
from server.wire import SharedFrame, text_frame
from server.ws_protocol import WRITE_FRAME


class FakeSocket:
    """What the sender uses of a Starlette WebSocket: the ASGI send and `close`, and the scope,
    which offers no direct write unless `direct` is given."""

    def __init__(self, direct: DirectWrites | None = None) -> None:
        self.scope: dict[str, Any] = {"extensions": {}}
        if direct is not None:
            self.scope["extensions"][WRITE_FRAME] = direct.write
        self.texts: list[str] = []
        self.sends_begun = 0
        self.closes: list[tuple[int, str]] = []
        self.reading = asyncio.Event()  # cleared: the peer stopped reading, sends wait
        self.reading.set()

    async def _send(self, message: dict[str, Any]) -> None:
        self.sends_begun += 1
        await self.reading.wait()
        await asyncio.sleep(0)  # a real send may yield: frames queued meanwhile keep order
        self.texts.append(message["text"])

    async def close(self, code: int, reason: str = "") -> None:
        self.closes.append((code, reason))


class DirectWrites:
    """The server's `write_frame`: takes frames while `open`, else refuses (buffer full)."""

    def __init__(self) -> None:
        self.open = True
        self.frames: list[bytes] = []

    def write(self, wire: bytes) -> bool:
        if self.open:
            self.frames.append(wire)
        return self.open


def senders() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("ws-send-")]


def connection(socket: FakeSocket, max_queue: int = 100) -> Connection:
    return Connection(cast(WebSocket, socket), "room", "client", "Ada", "127.0.0.1:1",
                      "2026-12-05T00:00:00Z", max_queue)


async def until(condition: Any) -> None:
    """Let the loop run until `condition()` holds (bounded: 2 s)."""
    async with asyncio.timeout(2.0):
        while not condition():  # noqa: ASYNC110 (the conditions are plain attributes)
            await asyncio.sleep(0)


async def test_frames_go_out_in_order_then_the_close() -> None:
    socket = FakeSocket()
    conn = connection(socket)
    conn.send("welcome")  # queued while joining, before the sender runs
    conn.start()
    for n in range(5):
        conn.send(f"a{n}")  # while the sender is busy
    await until(lambda: len(socket.texts) == 6)
    assert socket.texts == ["welcome", "a0", "a1", "a2", "a3", "a4"]
    assert not conn.closed.is_set()

    conn.send("b0")  # after the queue ran empty
    conn.send("b1")
    await until(lambda: len(socket.texts) == 8)
    assert socket.texts[-2:] == ["b0", "b1"]
    await until(lambda: not senders())  # idle: no sender task held

    conn.close(4410, "room deleted")
    await asyncio.wait_for(conn.closed.wait(), 2.0)
    assert socket.closes == [(4410, "room deleted")]
    conn.send("after close")
    await conn.stop()
    assert socket.texts[-1] == "b1"


async def test_a_close_goes_out_after_the_frames_queued_before_it() -> None:
    socket = FakeSocket()
    conn = connection(socket)
    conn.start()
    conn.send("last")
    conn.close(CloseCode.GOING_AWAY, "server shutting down")
    await asyncio.wait_for(conn.closed.wait(), 2.0)
    assert socket.texts == ["last"]
    assert socket.closes == [(CloseCode.GOING_AWAY, "server shutting down")]


async def test_a_peer_that_stops_reading_is_closed_with_1013() -> None:
    socket = FakeSocket()
    conn = connection(socket, max_queue=3)

    async def receive_loop() -> None:
        conn.start()
        await asyncio.Event().wait()  # a peer that sends nothing either

    receiver = asyncio.create_task(receive_loop())
    await until(lambda: conn._receiver is not None)
    socket.reading.clear()
    for n in range(5):
        conn.send(f"f{n}")
    await until(receiver.done)
    assert receiver.cancelled()
    assert conn.dropped
    await asyncio.wait_for(conn.stop(), 5.0)
    assert socket.closes[-1] == (CloseCode.TRY_AGAIN_LATER, "send queue full")
    assert conn.closed.is_set()
    assert socket.texts == []


async def test_stop_on_an_idle_connection_marks_it_closed() -> None:
    socket = FakeSocket()
    conn = connection(socket)
    conn.start()
    await conn.stop()
    assert conn.closed.is_set()
    assert socket.closes == []


async def test_frames_are_written_directly_while_the_socket_takes_them() -> None:
    direct = DirectWrites()
    sockets = [FakeSocket(direct), FakeSocket(direct)]
    conns = [connection(socket) for socket in sockets]
    for conn in conns:
        conn.start()
    broadcast = SharedFrame('{"type":"code_update"}')
    for conn in conns:
        conn.send(broadcast)
    conns[0].send("just for you")
    assert direct.frames == [text_frame(broadcast)] * 2 + [text_frame("just for you")]
    assert direct.frames[0] is direct.frames[1]  # encoded once for both receivers
    assert all(socket.texts == [] for socket in sockets)  # no ASGI message, no sender step
    for conn in conns:
        conn.close(CloseCode.GOING_AWAY)
        await conn.stop()


async def test_a_frame_never_overtakes_the_frames_queued_before_it() -> None:
    direct = DirectWrites()
    socket = FakeSocket(direct)
    conn = connection(socket)
    conn.start()
    direct.open = False  # the transport's buffer is full
    socket.reading.clear()
    conn.send("q0")
    await until(lambda: socket.sends_begun == 1)  # q0 in flight, nothing else queued
    direct.open = True  # the socket drained, but q0 is not written yet
    conn.send("q1")
    assert direct.frames == []
    socket.reading.set()
    await until(lambda: len(socket.texts) == 2)
    assert socket.texts == ["q0", "q1"]
    conn.send("d0")  # the queue ran empty: written directly again
    assert direct.frames == [text_frame("d0")]
    await until(lambda: not senders())  # and the sender ended with it
    conn.close(CloseCode.GOING_AWAY)
    await conn.stop()
    assert socket.closes == [(CloseCode.GOING_AWAY, "")]


async def test_a_text_that_cannot_be_utf8_goes_the_asgi_way() -> None:
    direct = DirectWrites()
    socket = FakeSocket(direct)
    conn = connection(socket)
    conn.start()
    conn.send(SharedFrame("\ud800"))
    await until(lambda: len(socket.texts) == 1)
    assert direct.frames == []
    conn.close(CloseCode.GOING_AWAY)
    await conn.stop()
