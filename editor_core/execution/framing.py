"""Frames on the pipe from a sandboxed child to the service.

One pipe carries both streams, so stdout and stderr arrive interleaved exactly in the order the
program wrote them. A frame is a tag byte, a 4-byte big-endian length and the payload:

- `o` / `e`: UTF-8 text written to stdout / stderr;
- `r`: the child's own verdict, JSON `{"reason": null|"exception"|"exit"|"tests_failed"|
  "memory_limit"}` (null: it ended well), written last.

The parent treats the child as hostile (it runs user code): the decoder bounds every length and
reports anything malformed instead of trusting it.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

from editor_core.execution.result import CHILD_REASONS

# A child's exit code when it could not raise its walls (EX_SOFTWARE); it then never ran the
# program and wrote no verdict.
EXIT_MACHINERY = 70

STDOUT = b"o"
STDERR = b"e"
VERDICT = b"r"
STREAM_NAMES = {STDOUT: "stdout", STDERR: "stderr"}

_HEADER = struct.Struct(">cI")
# A child never writes more than this in one frame; bigger writes are split.
MAX_PAYLOAD = 64 * 1024


def encode(tag: bytes, payload: bytes) -> bytes:
    return _HEADER.pack(tag, len(payload)) + payload


def encode_verdict(reason: str | None) -> bytes:
    return encode(VERDICT, json.dumps({"reason": reason}).encode())


class FrameError(Exception):
    """The child wrote something that is not a frame: it is broken or compromised."""


@dataclass
class Decoder:
    """Incremental decoder: `feed` bytes as they arrive, get back whole frames.

    At a bad header it returns the frames before it and sets `broken`; it decodes nothing
    after that."""

    _buffer: bytearray = field(default_factory=bytearray)
    broken: bool = False

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        if self.broken:
            return []
        self._buffer += data
        frames: list[tuple[bytes, bytes]] = []
        offset = 0
        while len(self._buffer) - offset >= _HEADER.size:
            tag, length = _HEADER.unpack_from(self._buffer, offset)
            if tag not in (STDOUT, STDERR, VERDICT) or length > MAX_PAYLOAD:
                self.broken = True
                break
            end = offset + _HEADER.size + length
            if end > len(self._buffer):
                break
            frames.append((tag, bytes(self._buffer[offset + _HEADER.size : end])))
            offset = end
        del self._buffer[:offset]
        return frames


def decode_verdict(payload: bytes) -> str:
    """The reason the child gives for its ending, or "ok" if it ended well."""
    try:
        reason = json.loads(payload)["reason"]
    except (ValueError, KeyError, TypeError) as error:
        raise FrameError("bad verdict frame") from error
    if reason is not None and reason not in CHILD_REASONS:
        raise FrameError("bad verdict reason")
    return "ok" if reason is None else str(reason)
