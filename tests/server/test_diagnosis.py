"""`DiagnosisTimer` (server/diagnosis.py): a burst is analysed once after it settles; requests
that never settle are analysed by the longest wait (and say so); one analysis at a time, the
requests made meanwhile served right after it."""

from __future__ import annotations

import asyncio

from server.diagnosis import DiagnosisTimer


class Analyses:
    def __init__(self) -> None:
        self.count = 0
        self.active = 0
        self.most_active = 0
        self.forced: list[bool] = []
        self.done = asyncio.Event()
        self.started: asyncio.Queue[int] = asyncio.Queue()
        self.release: asyncio.Event | None = None
        self.timer: DiagnosisTimer | None = None

    async def __call__(self) -> None:
        assert self.timer is not None
        self.count += 1
        self.forced.append(self.timer.forced)
        self.started.put_nowait(self.count)
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            if self.release is not None:
                await self.release.wait()
        finally:
            self.active -= 1
        self.done.set()


def timer(analyses: Analyses, quiet_s: float, max_wait_s: float) -> DiagnosisTimer:
    analyses.timer = DiagnosisTimer(analyses, quiet_s=quiet_s, max_wait_s=max_wait_s)
    return analyses.timer


async def test_a_burst_is_analysed_once_after_it_settles() -> None:
    analyses = Analyses()
    t = timer(analyses, quiet_s=0.05, max_wait_s=30)
    for _ in range(5):
        t.request()
    async with asyncio.timeout(5):
        await analyses.done.wait()
    assert (analyses.count, analyses.forced) == (1, [False])
    t.cancel()


async def test_requests_that_never_settle_are_analysed_by_the_longest_wait() -> None:
    analyses = Analyses()
    t = timer(analyses, quiet_s=10, max_wait_s=0.1)  # the quiet moment never comes
    async with asyncio.timeout(5):
        while not analyses.done.is_set():
            t.request()
            await asyncio.sleep(0.01)  # the pace of the edits
    assert analyses.forced == [True]
    t.cancel()


async def test_requests_during_an_analysis_are_served_when_it_ends() -> None:
    analyses = Analyses()
    analyses.release = asyncio.Event()
    t = timer(analyses, quiet_s=0.01, max_wait_s=1)
    t.request()
    async with asyncio.timeout(5):
        assert await analyses.started.get() == 1
        t.request()  # while the first analysis runs: it must not start a second at once
        analyses.release.set()
        assert await analyses.started.get() == 2
    assert (analyses.count, analyses.most_active) == (2, 1)
    t.cancel()
    running = t.running
    assert running is not None
    await running
