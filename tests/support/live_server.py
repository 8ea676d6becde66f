"""A real Pairpad server process on a free loopback port (live tests in the style of
Datasette). Waits for `/health` (and, for tests that need Jedi's answers, `/ready`) with a
deadline instead of sleeping."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    proc: subprocess.Popen[bytes]
    port: int
    db: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, deadline_s: float = 120.0) -> None:
        """Until `GET /ready` answers 200: completions are warm, so Jedi answers (before, the
        AST fallback does; tests that want Jedi's answers wait for this)."""
        wait_for(self.url + "/ready", self.proc, deadline_s)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)


def wait_for(url: str, proc: subprocess.Popen[bytes], deadline_s: float) -> None:
    """Until `url` answers 200 (a 503 or no answer yet: poll again), within `deadline_s`."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass  # HTTPError (a 503) is a URLError
        time.sleep(0.05)  # polling interval of a deadline wait, not a synchronization sleep
    raise TimeoutError(f"{url} did not answer 200 within {deadline_s}s")


def wait_healthy(url: str, proc: subprocess.Popen[bytes], deadline_s: float = 30.0) -> None:
    wait_for(url + "/health", proc, deadline_s)


def wait_completion_ready(url: str, deadline_s: float = 120.0) -> None:
    """Wait until `/health` says the Jedi workers are up (the server answers before they
    are; signatures, hover and definitions answer nothing until then)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        with urllib.request.urlopen(url + "/health", timeout=5) as resp:
            if json.loads(resp.read())["completion"] == "ready":
                return
        time.sleep(0.1)  # polling interval of a deadline wait, not a synchronization sleep
    raise TimeoutError(f"completion at {url} not ready within {deadline_s}s")


def launch(db: Path, log: Path, port: int | None = None,
           env: dict[str, str] | None = None) -> LiveServer:
    port = port or free_port()
    full_env = {**os.environ, "PAIRPAD_ADMIN_TOKEN": "test-admin-token", **(env or {})}
    # Coverage of subprocesses: pytest-cov sets COV_CORE_* vars that the child inherits.
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port),
             "--db", str(db)],
            cwd=REPO, env=full_env, stdout=out, stderr=subprocess.STDOUT,
        )
    server = LiveServer(proc=proc, port=port, db=db, log=log)
    try:
        wait_healthy(server.url, proc)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return server


@contextmanager
def live_server(tmp_path: Path, env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    server = launch(tmp_path / "pairpad.db", tmp_path / "server.log", env=env)
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.proc.terminate()  # graceful: the server removes its workers' temp folders
            try:
                server.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait()
