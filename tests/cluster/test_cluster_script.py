"""scripts/cluster's supervisor (`python -m scripts.cluster_lib`) as a person runs it: it
brings PostgreSQL, Redis, real Pairpad processes and nginx up (a room made and opened
through nginx, requests answered by both processes), and on SIGINT, or when a process
exits while starting, stops all of them and leaves no temp dir behind."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from scripts.cluster_lib.nginx_proxy import nginx_binary
from scripts.cluster_lib.postgres_server import postgres_bin_dir
from scripts.cluster_lib.process import accepts_connections, remove_tree, stop
from scripts.cluster_lib.redis_server import ping, redis_binary
from tests.support.live_server import REPO
from tests.support.required_tool import missing

DEADLINE_S = 90.0


@pytest.fixture(autouse=True)
def _tools() -> None:
    for found, what, package in ((postgres_bin_dir(), "PostgreSQL (initdb)", "postgresql"),
                                 (redis_binary(), "redis-server", "redis-server"),
                                 (nginx_binary(), "nginx", "nginx")):
        if found is None:
            missing(what, package)


@pytest.fixture
def temp_root() -> Iterator[Path]:
    """TMPDIR of the supervisor: whatever it leaves behind shows up here. Under the system temp
    dir and traversable, as PostgreSQL runs as another user (pytest's tmp_path is private)."""
    path = Path(tempfile.mkdtemp(prefix="pairpad-cluster-test-"))
    path.chmod(0o755)
    yield path
    remove_tree(path)


class Supervisor:
    """The supervisor process; its output lines on a queue, read with a deadline."""

    def __init__(self, args: list[str], temp_root: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scripts.cluster_lib", "--port", "0", *args],
            cwd=REPO, env={**os.environ, "TMPDIR": str(temp_root)}, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, pattern: str) -> re.Match[str]:
        deadline = time.monotonic() + DEADLINE_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r}; output:\n" + "\n".join(self.seen))

    def finish(self) -> int:
        code = self.proc.wait(timeout=DEADLINE_S)
        self.reader.join(timeout=10)
        while not self.lines.empty():
            line = self.lines.get_nowait()
            if line is not None:
                self.seen.append(line)
        return code

    def output(self) -> str:
        return "\n".join(self.seen)


def port_of(url: str) -> int:
    match = re.search(r":(\d+)(/|$)", url.split("@")[-1])
    assert match, url
    return int(match.group(1))


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def post_json(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_cluster_serves_round_robin_and_sigint_stops_everything(temp_root: Path) -> None:
    run = Supervisor(["--processes", "2"], temp_root)
    try:
        pg_port = port_of(run.wait_for(r"postgres +(\S+)").group(1))
        redis_port = port_of(run.wait_for(r"redis +(\S+)").group(1))
        first = run.wait_for(r"pairpad-1 +(\S+)  \(pid (\d+)\)")
        second = run.wait_for(r"pairpad-2 +(\S+)  \(pid (\d+)\)")
        backends = {port_of(first.group(1)), port_of(second.group(1))}
        nginx_url = run.wait_for(r"ready: open (\S+)").group(1)
        nginx_ws = nginx_url.replace("http://", "ws://")

        # A room made through nginx opens through nginx, whichever process each request hits.
        room = post_json(nginx_url + "/rooms", {"name": "tried", "code": "print(1)\n"})
        for client in ("c1", "c2"):
            with connect(f"{nginx_ws}/ws/{room['roomId']}/{client}?name={client}",
                         open_timeout=10) as ws:
                init = json.loads(ws.recv(timeout=10))
            assert (init["type"], init["code"]) == ("init", "print(1)\n")

        # Round-robin: consecutive requests are answered by both processes (their log lines
        # come prefixed with their name).
        answered = set()
        for _ in range(2):
            assert json.loads(get(nginx_url + "/health"))["status"] == "ok"
            answered.add(run.wait_for(r"^\[(pairpad-\d)\] .*route=/health").group(1))
        assert answered == {"pairpad-1", "pairpad-2"}
        assert ping(redis_port)
        assert accepts_connections(pg_port)
        assert list(temp_root.iterdir())  # PostgreSQL's, Redis's and nginx's dirs

        # Once up, a process that dies is reported and the cluster goes on (a fail-over
        # experiment); nginx sends the next requests to the survivor.
        os.kill(int(second.group(2)), signal.SIGKILL)
        run.wait_for(r"pairpad-2 exited with -9; the rest keeps running")
        for _ in range(3):
            assert json.loads(get(nginx_url + "/health"))["status"] == "ok"
            assert run.wait_for(r"^\[(pairpad-\d)\] .*route=/health").group(1) == "pairpad-1"

        run.proc.send_signal(signal.SIGINT)
        assert run.finish() == 0, run.output()
    finally:
        stop(run.proc, timeout=DEADLINE_S)
    assert "SIGINT: stopping everything" in run.output()
    assert "stopped; temp dirs removed" in run.output()
    assert list(temp_root.iterdir()) == []
    for port in (pg_port, redis_port, port_of(nginx_url), *backends):
        assert not accepts_connections(port), port


def test_cluster_fails_loudly_and_cleans_up_when_a_process_exits_early(
        temp_root: Path) -> None:
    # The real server, refusing an option: the path of any process that cannot start.
    run = Supervisor(["--processes", "2", "--", "--no-such-option"], temp_root)
    try:
        pg_port = port_of(run.wait_for(r"postgres +(\S+)").group(1))
        redis_port = port_of(run.wait_for(r"redis +(\S+)").group(1))
        run.wait_for(r"FAILED: pairpad-\d exited early with 2")
        assert run.finish() == 1, run.output()
    finally:
        stop(run.proc, timeout=DEADLINE_S)
    assert "unrecognized arguments" in run.output()
    assert "stopped; temp dirs removed" in run.output()
    assert list(temp_root.iterdir()) == []
    assert not accepts_connections(pg_port)
    assert not ping(redis_port)
