"""Keepalive pings on one timer for all of a loop's WebSockets, instead of one timer handle per
connection (docs/performance-collab.md "Idle connections"): each connection waits in the
bucket of the second its next ping is due, and one timer, set for the earliest bucket, pings
every connection of each bucket that came due. A ping goes out at most `RESOLUTION` later
than its own timer would have sent it."""

from __future__ import annotations

import asyncio
import math
import weakref
from typing import Protocol

RESOLUTION = 1.0  # seconds per bucket


class Pinger(Protocol):
    ping_due: int | None  # the bucket it waits in, if any

    def send_keepalive_ping(self) -> None: ...


class PingWheel:
    def __init__(self, loop: asyncio.AbstractEventLoop, resolution: float = RESOLUTION) -> None:
        self.loop = loop
        self.resolution = resolution
        self.buckets: dict[int, set[Pinger]] = {}
        self.timer: asyncio.TimerHandle | None = None

    def add(self, pinger: Pinger, delay: float) -> None:
        """Ping `pinger` in `delay` seconds (rounded up to the next bucket)."""
        self.discard(pinger)
        due = math.ceil((self.loop.time() + delay) / self.resolution)
        self.buckets.setdefault(due, set()).add(pinger)
        pinger.ping_due = due
        if self.timer is None or due * self.resolution < self.timer.when():
            self._arm()

    def discard(self, pinger: Pinger) -> None:
        due, pinger.ping_due = pinger.ping_due, None
        bucket = self.buckets.get(due) if due is not None else None
        if bucket is not None:
            bucket.discard(pinger)
            if not bucket:
                del self.buckets[due]  # type: ignore[arg-type]

    def _arm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = (self.loop.call_at(min(self.buckets) * self.resolution, self._fire)
                      if self.buckets else None)

    def _fire(self) -> None:
        self.timer = None
        now = self.loop.time()
        for due in sorted(d for d in self.buckets if d * self.resolution <= now):
            for pinger in self.buckets.pop(due):
                pinger.ping_due = None
                pinger.send_keepalive_ping()  # may add it again (a ping without a timeout)
        if self.timer is None:
            self._arm()


_wheels: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PingWheel] = (
    weakref.WeakKeyDictionary())


def wheel(loop: asyncio.AbstractEventLoop) -> PingWheel:
    """The loop's wheel (tests run servers on several loops)."""
    found = _wheels.get(loop)
    if found is None:
        found = _wheels[loop] = PingWheel(loop)
    return found
