"""Child processes of the local deployment: free ports, deadline waits, stopping for sure."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

POLL_S = 0.05  # polling interval of a deadline wait, not a synchronization sleep


class StartError(RuntimeError):
    """A component did not come up (exited early, or not ready before its deadline)."""


# Children run in their own sessions (Popen start_new_session=True): a terminal's Ctrl-C
# reaches only the supervisor, which stops them in order (nginx, Pairpad, Redis, PostgreSQL)
# so that the Pairpad processes can still flush to PostgreSQL while they stop.


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it; a race with another binder is
    possible but rare, as for every free-port helper)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def accepts_connections(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(ready: Callable[[], bool], proc: subprocess.Popen[Any] | None, what: str,
               deadline_s: float, log: Path | None = None) -> None:
    """Poll `ready` until it holds; fail early when `proc` exits and late at the deadline,
    quoting the end of `log` so the reason is in the error."""
    deadline = time.monotonic() + deadline_s
    while True:
        if proc is not None and proc.poll() is not None:
            raise StartError(f"{what} exited early with {proc.returncode}{tail(log)}")
        if ready():
            return
        if time.monotonic() >= deadline:
            raise StartError(f"{what} not ready within {deadline_s:g}s{tail(log)}")
        time.sleep(POLL_S)


def tail(log: Path | None, lines: int = 20) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return f"; last lines of {log}:\n" + "\n".join(text)


def stop(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM,
         timeout: float = 20.0) -> int:
    """Send `sig`, wait up to `timeout`, then SIGKILL; always reaps the process."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def kill(proc: subprocess.Popen[Any]) -> int:
    """SIGKILL, as a crash would, and reap."""
    if proc.poll() is None:
        proc.kill()
    return proc.wait()


def make_temp_dir(prefix: str) -> Path:
    """A fresh folder under the system temp dir, traversable by other users (nginx workers and
    PostgreSQL run as other users when we are root; pytest's own temp dirs are private)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def find_binary(name: str, extra_dirs: tuple[str, ...] = ()) -> str | None:
    """`name` on PATH, else in one of `extra_dirs` (e.g. Debian's /usr/lib/postgresql/N/bin)."""
    found = shutil.which(name)
    if found:
        return found
    for directory in extra_dirs:
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None
