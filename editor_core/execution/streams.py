"""The sandboxed program's standard streams, as objects inside the child.

Everything the program writes goes straight to the frame pipe (no buffering: output streams
while the program runs, and whatever was written survives a kill). The sink clips at the
output cap plus one byte: the parent sees that the cap was crossed and kills the child, and a
single huge `print` never costs more than the cap to encode.
"""

from __future__ import annotations

import io
import os

from editor_core.execution import framing

# A chunk of text encodes to at most 4 bytes a character: this keeps every frame whole UTF-8.
_CHARS_PER_FRAME = framing.MAX_PAYLOAD // 4


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class OutputSink:
    """Frames text onto the pipe to the parent, up to `budget + 1` bytes in total."""

    def __init__(self, fd: int, budget: int) -> None:
        self._fd = fd
        self._left = budget + 1

    def emit(self, tag: bytes, text: str) -> None:
        for start in range(0, len(text), _CHARS_PER_FRAME):
            if self._left <= 0:
                return
            chunk = text[start : start + min(_CHARS_PER_FRAME, self._left)]
            # "replace": a lone surrogate must not turn a print into a crash of ours.
            data = chunk.encode("utf-8", "replace")[: self._left]
            self._left -= len(data)
            _write_all(self._fd, framing.encode(tag, data))

    def verdict(self, reason: str | None) -> None:
        _write_all(self._fd, framing.encode_verdict(reason))


class UserOutput:
    """`sys.stdout` / `sys.stderr` as the program sees them: text in, frames out."""

    __slots__ = ("_sink", "_tag")
    encoding = "utf-8"

    def __init__(self, sink: OutputSink, tag: bytes) -> None:
        self._sink = sink
        self._tag = tag

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._sink.emit(self._tag, str(text))
        return len(text)

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Nothing to do: every write is already on its way."""

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True


class UserInput:
    """`sys.stdin`: the run's stdin text, read with universal newlines like a real file."""

    __slots__ = ("_buffer",)
    encoding = "utf-8"

    def __init__(self, text: str) -> None:
        self._buffer = io.StringIO(text, newline=None)

    def readline(self) -> str:
        return self._buffer.readline()

    def read(self) -> str:
        return self._buffer.read()

    def readlines(self) -> list[str]:
        return self._buffer.readlines()

    def __iter__(self) -> UserInput:
        return self

    def __next__(self) -> str:
        line = self._buffer.readline()
        if not line:
            raise StopIteration
        return line

    def isatty(self) -> bool:
        return False

    def readable(self) -> bool:
        return True
