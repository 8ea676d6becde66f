"""The sandbox escape and DoS corpus (`*.py.txt`, run by test_execution_sandbox.py), and
helpers for the execution tests: process scans from /proc and waiting without sleeps."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
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


def uids_of(pid: int) -> list[int]:
    """Real, effective, saved and filesystem uid of `pid`."""
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    return [int(uid) for uid in line.split()[1:]]


def is_alive(pid: int) -> bool:
    """Running, sleeping or stopped; a zombie (dead, not yet reaped) does not count."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


async def wait_for_exit(pid: int, deadline_s: float) -> None:
    """Wait until `pid` has exited, on its pidfd (no polling)."""
    loop = asyncio.get_running_loop()
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    exited: asyncio.Future[None] = loop.create_future()

    def on_exit() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(pidfd, on_exit)
    try:
        await asyncio.wait_for(exited, deadline_s)
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)


async def wait_until(condition: Callable[[], bool], turns: int = 10_000) -> None:
    """Yield to the event loop until `condition` holds; fail after `turns` turns."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


@dataclass(frozen=True)
class Attack:
    """One corpus program and what must become of it."""

    name: str
    code: str
    statuses: tuple[str, ...]
    contains: tuple[str, ...]


def load_corpus() -> list[Attack]:
    """Every `*.py.txt` here. Header lines: `# expect: error|timeout` (allowed statuses) and
    any number of `# contains: <text>` (must appear in the output). The extension keeps the
    programs away from ruff, mypy and pytest's collection."""
    attacks = []
    for path in sorted(Path(__file__).parent.glob("*.py.txt")):
        code = path.read_text(encoding="utf-8")
        statuses: tuple[str, ...] = ()
        contains: list[str] = []
        for line in code.splitlines():
            if line.startswith("# expect:"):
                statuses = tuple(line.split(":", 1)[1].strip().split("|"))
            elif line.startswith("# contains:"):
                contains.append(line.split(":", 1)[1].strip())
        assert statuses, f"{path.name} has no '# expect:' line"
        attacks.append(Attack(path.name.removesuffix(".py.txt"), code, statuses, tuple(contains)))
    return attacks
