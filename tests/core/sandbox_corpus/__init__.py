"""The sandbox escape and DoS corpus (`*.py.txt`, run by test_execution_sandbox.py), and
helpers for the execution tests: process scans from /proc and waiting without sleeps."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path


def children_of(pid: int) -> list[int]:
    """Pids whose parent is `pid`, from /proc (no psutil)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def wait_until(condition: Callable[[], bool], turns: int = 10_000) -> None:
    """Yield to the event loop until `condition` holds; fail after `turns` turns."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")
