"""The shared keepalive timer (server/keepalive.py): every connection is pinged once its delay
has passed, at most one bucket late, in the order they came due; a discarded one never is; one
timer stands for all of them."""

from __future__ import annotations

import asyncio

from server.keepalive import PingWheel

RESOLUTION = 0.02


class Pings(list[tuple[str, float]]):
    """Who was pinged when; `reached(n)` waits (bounded) until n pings happened."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Event()

    def record(self, name: str, at: float) -> None:
        self.append((name, at))
        self.changed.set()

    async def reached(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self) < count:
                self.changed.clear()
                await self.changed.wait()


class Recorder:
    def __init__(self, name: str, pinged: Pings, loop: asyncio.AbstractEventLoop) -> None:
        self.name = name
        self.ping_due: int | None = None
        self.pinged = pinged
        self.loop = loop

    def send_keepalive_ping(self) -> None:
        self.pinged.record(self.name, self.loop.time())


async def test_each_is_pinged_once_due_in_order_and_a_discarded_one_never() -> None:
    loop = asyncio.get_running_loop()
    wheel = PingWheel(loop, resolution=RESOLUTION)
    pinged = Pings()
    delays = {"c": 0.15, "a": 0.05, "b": 0.1, "gone": 0.07}
    pingers = {name: Recorder(name, pinged, loop) for name in delays}
    start = loop.time()
    for name, delay in delays.items():
        wheel.add(pingers[name], delay)
    timer = wheel.timer
    assert timer is not None
    assert abs(timer.when() - (start + 0.05)) <= RESOLUTION  # set for the earliest
    wheel.discard(pingers["gone"])
    await pinged.reached(3)
    assert [name for name, _ in pinged] == ["a", "b", "c"]
    for name, at in pinged:
        assert at >= start + delays[name] - 1e-3
    assert wheel.timer is None  # nothing waits: no timer
    assert wheel.buckets == {}
    assert all(p.ping_due is None for p in pingers.values())


async def test_moving_a_ping_earlier_re_arms_the_timer() -> None:
    loop = asyncio.get_running_loop()
    wheel = PingWheel(loop, resolution=RESOLUTION)
    pinged = Pings()
    late, soon = Recorder("late", pinged, loop), Recorder("soon", pinged, loop)
    wheel.add(late, 30.0)
    wheel.add(soon, 30.0)
    wheel.add(soon, 0.01)  # rescheduled: leaves its old bucket
    await pinged.reached(1)
    assert [name for name, _ in pinged] == ["soon"]
    assert list(wheel.buckets.values()) == [{late}]
    wheel.discard(late)
    assert wheel.buckets == {}
