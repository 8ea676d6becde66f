"""A lean WebSocket client (RFC 6455, client side; RFC 7692 permessage-deflate, receive side).

A load generator must not be the bottleneck it measures: on a 2-core machine shared with the
server, a full-featured client library spends more CPU per received frame than the server
spends per sent one. This one parses frames straight out of one buffer, hands each text message
to a callback as bytes, answers pings and close frames, and sends masked text frames. It does
not compress what it sends (RFC 7692 allows that per message) and checks the handshake answer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import zlib
from collections.abc import Callable

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
INFLATE_TAIL = b"\x00\x00\xff\xff"


def _mask(data: bytes, key: bytes) -> bytes:
    n = len(data)
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(
        n, "little")


def _frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    key = os.urandom(4)
    return head + key + _mask(payload, key)


class LeanSocket(asyncio.Protocol):
    def __init__(self, host: str, port: int, path: str, deflate: bool,
                 on_message: Callable[[bytes], None]) -> None:
        loop = asyncio.get_running_loop()
        self.request = self._handshake_request(host, port, path, deflate)
        self.on_message = on_message
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[int | None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.deflate = False  # negotiated
        self._reset_inflater = False  # server_no_context_takeover
        self._inflater = zlib.decompressobj(-15)
        self._buffer = bytearray()
        self._fragments: list[bytes] = []
        self._fragments_compressed = False
        self.frames_in = 0
        self.bytes_in = 0

    def _handshake_request(self, host: str, port: int, path: str, deflate: bool) -> bytes:
        self._key = base64.b64encode(os.urandom(16))
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {self._key.decode()}",
                 "Sec-WebSocket-Version: 13"]
        if deflate:
            lines.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.bytes_in += len(data)
        self._buffer += data
        if not self.opened.done() and not self._read_handshake():
            return
        self._read_frames()

    # -- receiving -----------------------------------------------------------------------------

    def _read_handshake(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        del self._buffer[: end + 4]
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        digest = hashlib.sha1(self._key + GUID, usedforsecurity=False).digest()
        accept = base64.b64encode(digest).decode()
        if not head[0].startswith("HTTP/1.1 101") or headers.get("sec-websocket-accept") != accept:
            self.opened.set_exception(ConnectionError(f"handshake refused: {head[0]}"))
            self.abort()
            return False
        extensions = headers.get("sec-websocket-extensions", "")
        self.deflate = "permessage-deflate" in extensions
        self._reset_inflater = "server_no_context_takeover" in extensions
        self.opened.set_result(None)
        return True

    def _read_frames(self) -> None:
        buf = self._buffer
        size = len(buf)
        pos = 0
        while size - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length, head = b1 & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if size - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            self._on_frame(b0, payload)
        if pos:
            del buf[:pos]

    def _on_frame(self, b0: int, payload: bytes) -> None:
        self.frames_in += 1
        opcode, fin, compressed = b0 & 0x0F, b0 & 0x80, bool(b0 & 0x40)
        if opcode in (OP_TEXT, OP_BINARY):
            if fin:
                self._on_message(payload, compressed)
            else:
                self._fragments, self._fragments_compressed = [payload], compressed
        elif opcode == OP_CONT:
            self._fragments.append(payload)
            if fin:
                self._on_message(b"".join(self._fragments), self._fragments_compressed)
                self._fragments = []
        elif opcode == OP_PING:
            self._write(_frame(OP_PONG, payload))
        elif opcode == OP_CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
            self._write(_frame(OP_CLOSE, payload[:2]))
            if not self.closed.done():
                self.closed.set_result(code)
            if self.transport is not None:
                self.transport.close()

    def _on_message(self, payload: bytes, compressed: bool) -> None:
        if compressed:
            if self._reset_inflater:
                self._inflater = zlib.decompressobj(-15)
            payload = self._inflater.decompress(payload + INFLATE_TAIL)
        self.on_message(payload)

    # -- sending -------------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def send_text(self, data: bytes) -> None:
        self._write(_frame(OP_TEXT, data))

    def send_binary(self, data: bytes) -> None:
        self._write(_frame(OP_BINARY, data))

    def close(self, code: int = 1000) -> None:
        self._write(_frame(OP_CLOSE, code.to_bytes(2, "big")))
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def open_socket(host: str, port: int, path: str, deflate: bool,
                      on_message: Callable[[bytes], None]) -> LeanSocket:
    """Connect and finish the handshake; callers bound it with `asyncio.timeout`."""
    loop = asyncio.get_running_loop()
    _, sock = await loop.create_connection(
        lambda: LeanSocket(host, port, path, deflate, on_message), host, port)
    await sock.opened
    return sock
