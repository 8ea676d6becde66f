"""When a room's published document is analysed (docs/protocol.md `diagnostics`): once edits
settle, `quiet_s` after the last request of a burst but never later than `max_wait_s` after
its first, and one analysis at a time (requests made while one runs start the next as soon
as it ends, if their timer already fired). `forced` tells the room that the running analysis
was started by the longest wait, not by a quiet moment."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("pairpad.diagnostics")


class DiagnosisTimer:
    def __init__(self, analyse: Callable[[], Awaitable[None]], *, quiet_s: float,
                 max_wait_s: float) -> None:
        self._analyse = analyse
        self._quiet_s = quiet_s
        self._max_wait_s = max_wait_s
        self._first: float | None = None  # when the burst's first request came
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._bounded = False  # the armed timer is the burst's longest wait, not a quiet one
        # Whether the analysis running now was started by the longest wait (edits did not
        # settle): its answer may well be behind the newest version, and is sent anyway.
        self.forced = False

    def request(self) -> None:
        """A new version wants analysing: (re)arm the timer."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._first is None:
            self._first = now
        due = min(now + self._quiet_s, self._first + self._max_wait_s)
        self._bounded = due < now + self._quiet_s
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(due, self._fire)

    def cancel(self) -> None:
        """Forget what is pending (the room is going away); a running analysis ends alone."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._first, self._again = None, None, False

    @property
    def running(self) -> asyncio.Task[None] | None:
        return self._task

    def _fire(self) -> None:
        self._timer, self._first = None, None
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self.forced = self._bounded
        self._task = asyncio.get_running_loop().create_task(self._run(), name="diagnose")

    async def _run(self) -> None:
        while True:
            self._again = False
            try:
                await self._analyse()
            except Exception:  # the next version gets its own analysis
                log.exception("event=diagnostics.failed")
            if not self._again:
                return
            self.forced = True  # it waited for the previous analysis on top of its timer
