"""The service's end of a child's frame pipe: decode, cap, keep, and stream in batches."""

from __future__ import annotations

import asyncio
import logging
import os

from editor_core.execution import framing
from editor_core.execution.result import OutputCallback

logger = logging.getLogger("pairpad.execution")

# `on_output` gets what accumulated over at most this long, or this much, whichever first.
BATCH_SECONDS = 0.05
BATCH_BYTES = 4096
_READ_SIZE = 64 * 1024


class OutputReader:
    """Reads one child's pipe on the event loop until end of file.

    `failed` resolves when the child must be killed: it crossed the output cap (then
    `truncated` is true) or wrote something that is not a frame. After that the pipe is still
    drained to its end, but nothing more is kept.
    """

    def __init__(self, fd: int, cap: int, on_output: OutputCallback | None) -> None:
        self._loop = asyncio.get_running_loop()
        self._fd = fd
        self._cap = cap
        self._on_output = on_output
        self._decoder = framing.Decoder()
        self._used = 0
        # Everything a well-behaved child can send: its output up to the cap plus the byte
        # that tells us it went over, at worst one 5-byte header per byte (print("x") writes
        # "x" and "\n" separately), and one verdict. More means a compromised child flooding
        # us with frames that do not count as output.
        self._received = 0
        self._receive_limit = 6 * (cap + 1) + 2 * framing.MAX_PAYLOAD
        self._pending: list[tuple[str, str]] = []
        self._pending_bytes = 0
        self._flush_timer: asyncio.TimerHandle | None = None
        self.parts: list[tuple[str, str]] = []
        self.truncated = False
        # The child's own word on its ending: "ok" or a reason; None until (unless) it comes.
        self.verdict: str | None = None
        self.eof: asyncio.Future[None] = self._loop.create_future()
        self.failed: asyncio.Future[None] = self._loop.create_future()
        os.set_blocking(fd, False)
        self._loop.add_reader(fd, self._on_readable)

    def close(self) -> None:
        """Stop reading and hand the last batch to `on_output`."""
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
        self._flush()

    def text(self, stream: str | None = None) -> str:
        return "".join(text for name, text in self.parts if stream in (None, name))

    def _on_readable(self) -> None:
        try:
            data = os.read(self._fd, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._loop.remove_reader(self._fd)
            if not self.eof.done():
                self.eof.set_result(None)
            return
        if self.failed.done():
            return
        self._received += len(data)
        if self._received > self._receive_limit:
            logger.warning(
                "event=sandbox.output_over_limit received=%d limit=%d",
                self._received,
                self._receive_limit,
            )
            self.failed.set_result(None)
            return
        try:
            for tag, payload in self._decoder.feed(data):
                if tag == framing.VERDICT:
                    self.verdict = framing.decode_verdict(payload)
                elif not self._keep(framing.STREAM_NAMES[tag], payload):
                    return
            if self._decoder.broken:
                raise framing.FrameError("bad frame header")
        except framing.FrameError:
            logger.warning("event=sandbox.bad_frame")
            self.failed.set_result(None)

    def _keep(self, stream: str, payload: bytes) -> bool:
        room = self._cap - self._used
        if len(payload) > room:
            # Cut at the cap; "ignore" drops a character the cut split in two.
            text = payload[:room].decode("utf-8", "ignore")
            self._used = self._cap
            self.truncated = True
        else:
            text = payload.decode("utf-8", "replace")
            self._used += len(payload)
        if text:
            self.parts.append((stream, text))
            self._queue(stream, text, len(payload))
        if self.truncated:
            self.failed.set_result(None)
            return False
        return True

    def _queue(self, stream: str, text: str, size: int) -> None:
        if self._on_output is None:
            return
        if self._pending and self._pending[-1][0] == stream:
            self._pending[-1] = (stream, self._pending[-1][1] + text)
        else:
            self._pending.append((stream, text))
        self._pending_bytes += size
        if self._pending_bytes >= BATCH_BYTES:
            self._flush()
        elif self._flush_timer is None:
            self._flush_timer = self._loop.call_later(BATCH_SECONDS, self._flush)

    def _flush(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        if self._on_output is None:
            return
        for stream, text in pending:
            try:
                self._on_output(stream, text)
            except Exception as error:
                # The listener's bug must not end the run or lose the rest of its output. Its
                # type only: the exception's text may quote the output (a user's).
                logger.error("event=sandbox.output_listener_failed error=%s", type(error).__name__)
