"""The WebSocket protocol class the server runs (server/ws_protocol.py): an open connection keeps
nothing of its handshake, and everything after the handshake behaves as uvicorn's own
protocol does (frames both ways, close codes and reasons, a frame split across the accept).
A real uvicorn with the CLI's configuration, in a thread, on a free loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import socket
import threading
import time
import urllib.request
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import uvicorn
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import Protocol
from websockets.server import ServerProtocol
from websockets.sync.client import connect
from websockets.uri import parse_uri

from editor_core.close_codes import CloseCode
from server.app import create_app
from server.cli import uvicorn_config
from server.config import Settings
from server.ws_protocol import Gate, Inbox, LeanWebSocketProtocol, restart_parser
from tests.server.fakes import FakeCompleter, FakeRunner

pytestmark = pytest.mark.live

DEADLINE_S = 20.0


@dataclass
class Served:
    server: uvicorn.Server
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def new_room(self) -> str:
        request = urllib.request.Request(self.url + "/rooms", data=b'{"code": "ab"}',
                                         method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            room_id: str = json.loads(response.read())["roomId"]
        return room_id

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/health", timeout=10) as response:
            body: dict[str, Any] = json.loads(response.read())
        return body

    def protocols(self) -> list[LeanWebSocketProtocol]:
        return [p for p in list(self.server.server_state.connections)
                if isinstance(p, LeanWebSocketProtocol)]


def wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.02)  # polling interval of a deadline wait, not a synchronization sleep


@contextlib.contextmanager
def serve(tmp_path: Path, **uvicorn_options: Any) -> Iterator[Served]:
    # Deflate offered, as `--per-message-deflate` does; the clients choose.
    settings = replace(Settings(db=str(tmp_path / "db.sqlite"), admin_token="test-token"),
                       host="127.0.0.1", port=0, per_message_deflate=True)
    app = create_app(settings, execution=FakeRunner(), completion=FakeCompleter())
    config = uvicorn_config(app, settings)
    assert config.ws is LeanWebSocketProtocol
    for name, value in uvicorn_options.items():
        setattr(config, name, value)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, "uvicorn did not start")
        yield Served(server, sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=DEADLINE_S)
        sock.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with serve(tmp_path) as served:
        yield served


def test_an_open_connection_keeps_no_handshake_and_still_talks(served: Served) -> None:
    room_id = served.new_room()
    with connect(served.ws(f"/ws/{room_id}/alice?name=Alice")) as ws:
        assert json.loads(ws.recv(timeout=DEADLINE_S))["type"] == "init"
        [protocol] = served.protocols()
        assert not hasattr(protocol, "request")
        assert not hasattr(protocol, "response")
        assert protocol.scope["headers"] == []  # read before the accept, then released
        assert isinstance(protocol.queue, Inbox)
        assert isinstance(protocol.writable, Gate)
        # The frame parser is a fresh one, not the generator that parsed the request.
        assert protocol.conn.parser.gi_code is Protocol.parse.__code__
        for version, at in ((0, 2), (1, 3)):
            ws.send(json.dumps({"type": "code_update", "version": version,
                                "updates": [{"changes": [at, [0, "X"]]}]}))
            reply = json.loads(ws.recv(timeout=DEADLINE_S))
            assert (reply["type"], reply["version"]) == ("code_update", version)
        assert served.health()["connections"] == 1
    wait_for(lambda: served.health()["connections"] == 0, "the server did not see the close")
    wait_for(lambda: not served.protocols(), "the protocol was not released")


@pytest.mark.parametrize(("path", "code", "reason"), [
    ("/ws/nosuchroom/alice?name=A", CloseCode.NOT_FOUND, "room not found"),
    ("/ws/ROOM/bad%20id?name=A", CloseCode.BAD_REQUEST, "bad clientId or name"),
])
def test_server_closes_keep_their_codes_and_reasons(served: Served, path: str, code: int,
                                                   reason: str) -> None:
    path = path.replace("ROOM", served.new_room())
    with connect(served.ws(path)) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=DEADLINE_S)  # the close comes without any message before it
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (code, reason)


def received(conn: ServerProtocol) -> list[bytes]:
    return [bytes(e.data) for e in conn.events_received() if isinstance(e, Frame)]


def test_the_parser_is_swapped_only_between_frames() -> None:
    """A client that sends a frame before the 101 (RFC 6455 asks it to wait) may leave the
    parser mid-frame at the accept: then it is kept, or the rest of the frame would be read as
    a new one. Between frames the fresh parser reads the same, and the request is freed."""
    conn = ServerProtocol()
    client = ClientProtocol(parse_uri("ws://127.0.0.1/ws/room/alice"))
    client.send_request(client.connect())
    conn.receive_data(b"".join(client.data_to_send()))
    [request] = conn.events_received()
    assert isinstance(request, Request)
    conn.send_response(conn.accept(request))
    request_ref = weakref.ref(request)
    del request
    frame = Frame(Opcode.TEXT, b"not json").serialize(mask=True, extensions=[])
    conn.receive_data(frame[:3])
    assert not restart_parser(conn)
    conn.receive_data(frame[3:])
    assert received(conn) == [b"not json"]
    assert restart_parser(conn)
    gc.collect()
    assert request_ref() is None
    conn.receive_data(frame[:3])
    conn.receive_data(frame[3:] + frame)
    assert received(conn) == [b"not json", b"not json"]


async def test_the_inbox_hands_out_in_order_and_survives_a_cancelled_reader() -> None:
    inbox = Inbox()
    # The protocol's own `receive`, on just what it reads (reading is not paused).
    reader_of: Any = SimpleNamespace(inbox=inbox, read_paused=False)

    def receive() -> Any:
        return LeanWebSocketProtocol.receive(reader_of)

    reader = asyncio.create_task(receive())
    await asyncio.sleep(0)  # let the reader start waiting (an ordering step, not a timing one)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    assert inbox.empty()
    waiting = asyncio.create_task(receive())
    await asyncio.sleep(0)
    inbox.put_nowait({"type": "websocket.connect"})
    inbox.put_nowait({"type": "websocket.receive", "text": "a"})
    assert await asyncio.wait_for(waiting, DEADLINE_S) == {"type": "websocket.connect"}
    assert not inbox.empty()
    assert await receive() == {"type": "websocket.receive", "text": "a"}
    assert inbox.empty()


async def test_the_gate_holds_writers_while_closed_and_a_cancelled_one_alone() -> None:
    gate = Gate()
    await asyncio.wait_for(gate.wait(), DEADLINE_S)  # open: passes at once
    gate.clear()
    assert not gate.is_set()
    first, second = asyncio.create_task(gate.wait()), asyncio.create_task(gate.wait())
    await asyncio.sleep(0)  # both start waiting (an ordering step, not a timing one)
    assert not first.done()
    assert not second.done()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert not second.done()
    gate.set()
    await asyncio.wait_for(second, DEADLINE_S)
    gate.clear()
    third = asyncio.create_task(gate.wait())
    await asyncio.sleep(0)
    assert not third.done()
    gate.set()
    await asyncio.wait_for(third, DEADLINE_S)


def test_broadcasts_are_written_directly_unless_deflate_was_negotiated(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broadcast reaches a plain client through `write_frame` (the frame encoded once) and a
    permessage-deflate client through uvicorn's send, which compresses it; both read it."""
    direct: list[bytes] = []
    real_write = LeanWebSocketProtocol.write_frame

    def counting(self: LeanWebSocketProtocol, wire: bytes) -> bool:
        written = real_write(self, wire)
        if written:
            direct.append(wire)
        return written

    monkeypatch.setattr(LeanWebSocketProtocol, "write_frame", counting)
    room_id = served.new_room()
    with connect(served.ws(f"/ws/{room_id}/plain?name=P"), compression=None) as plain, \
            connect(served.ws(f"/ws/{room_id}/zipped?name=Z")) as zipped, \
            connect(served.ws(f"/ws/{room_id}/author?name=A"), compression=None) as author:
        for ws in (plain, zipped, author):
            assert json.loads(ws.recv(timeout=DEADLINE_S))["type"] == "init"
        assert zipped.protocol.extensions  # permessage-deflate negotiated
        direct.clear()
        author.send(json.dumps({"type": "code_update", "version": 0,
                                "updates": [{"changes": [2, [0, "cd"]]}]}))
        for ws in (plain, zipped, author):
            while (frame := json.loads(ws.recv(timeout=DEADLINE_S)))["type"] != "code_update":
                pass  # participant updates
            assert frame["version"] == 0
            assert frame["updates"][0]["changes"] == [2, [0, "cd"]]
        updates = [wire for wire in direct if b'"code_update"' in wire]
        # One frame each to the plain client and the author, the same bytes object; none to the
        # deflate client.
        assert len(updates) == 2
        assert updates[0] is updates[1]


def test_keepalive_pings_on_the_shared_timer_and_a_silent_client_is_closed(
    tmp_path: Path
) -> None:
    """uvicorn's keepalive as before, on server/keepalive.py's one timer: a client that answers
    pings stays open through several intervals; one that never reads gets 1011."""
    with serve(tmp_path, ws_ping_interval=0.2, ws_ping_timeout=1.0) as served:
        room_id = served.new_room()
        with connect(served.ws(f"/ws/{room_id}/alice?name=Alice")) as ws:
            assert json.loads(ws.recv(timeout=DEADLINE_S))["type"] == "init"
            [protocol] = served.protocols()
            assert protocol.ping_timer is None  # no timer of its own
            wait_for(lambda: protocol.last_ping_rtt > 0, "no ping was answered")
            first = protocol.ping_sent_at
            wait_for(lambda: protocol.ping_sent_at > first + 0.3, "pings stopped")
            ws.send(json.dumps({"type": "ping"}))
            while json.loads(ws.recv(timeout=DEADLINE_S))["type"] != "pong":
                pass  # participants, diagnostics

        # A client that does the handshake and then never reads nor answers.
        silent = ClientProtocol(parse_uri(served.ws(f"/ws/{room_id}/bob?name=Bob")))
        with socket.create_connection(("127.0.0.1", served.port), timeout=DEADLINE_S) as raw:
            silent.send_request(silent.connect())
            raw.sendall(b"".join(silent.data_to_send()))
            code = None
            deadline = time.monotonic() + DEADLINE_S
            while code is None and time.monotonic() < deadline:
                data = raw.recv(65536)
                if not data:
                    break
                silent.receive_data(data)
                for event in silent.events_received():
                    if isinstance(event, Frame) and event.opcode is Opcode.CLOSE:
                        code = int.from_bytes(event.data[:2], "big")
                silent.data_to_send()  # its pongs are never sent
        assert code == 1011  # "keepalive ping timeout"
