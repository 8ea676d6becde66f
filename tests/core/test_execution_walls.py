"""The process walls on their own, as if the language policy had been bypassed.

A fresh interpreter (not this test process: it must not fork with pytest's threads, nor move
itself into a network namespace) raises the walls in a forked child exactly as the fork
server does, then tries the things a program that escaped RestrictedPython would try, and
reports what happened as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, os, socket
from editor_core.execution.forkserver import _isolate_network, empty_root, hide_filesystem
from editor_core.execution.walls import Walls, raise_walls

# What the fork server does at start, in the same order.
network_isolated = _isolate_network()
devnull = os.open(os.devnull, os.O_RDWR)
root = empty_root()
filesystem_hidden = hide_filesystem(root)
os.environ["PAIRPAD_WALLS_SECRET"] = "leak"
read_end, write_end = os.pipe()
pid = os.fork()
if pid == 0:
    try:
        raise_walls(Walls(2, 256 * 2**20, 65534, root, devnull, os.getppid()), write_end)
        report = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
                  "env": dict(os.environ), "nice": os.nice(0), "root": os.listdir("/"),
                  "network_isolated": network_isolated, "filesystem_hidden": filesystem_hidden}
        def attempt(name, action):
            try:
                action()
                report[name] = "allowed"
            except OSError as error:
                report[name] = type(error).__name__
        attempt("fork", os.fork)
        attempt("write_cwd", lambda: open("x", "w"))
        attempt("read_passwd", lambda: open("/etc/passwd").read())
        attempt("kill_init", lambda: os.kill(1, 0))
        attempt("setuid_root", lambda: os.setuid(0))
        def connect():
            # A bytes host: a str host would need the "idna" codec, not importable here.
            with socket.socket() as sock:
                sock.settimeout(1)
                sock.connect((b"1.1.1.1", 53))
        attempt("connect", connect)
        attempt("many_files", lambda: [os.dup(0) for _ in range(64)])
        os.write(3, json.dumps(report).encode())
    finally:
        os._exit(0)
os.close(write_end)
chunks = []
while chunk := os.read(read_end, 65536):
    chunks.append(chunk)
os.waitpid(pid, 0)
print(b"".join(chunks).decode())
"""


@pytest.fixture(scope="module")
def report() -> dict[str, object]:
    if os.geteuid() != 0:
        pytest.skip("the walls drop privileges only when started as root")
    completed = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r})\n{PROBE}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(completed.stdout)
    return result


def test_child_runs_unprivileged_in_an_empty_environment(report: dict[str, object]) -> None:
    assert (report["uid"], report["gid"], report["groups"]) == (65534, 65534, [])
    assert report["env"] == {}
    assert report["nice"] == 19


def test_child_sees_an_empty_file_system(report: dict[str, object]) -> None:
    assert report["filesystem_hidden"] is True
    assert report["root"] == []
    assert report["read_passwd"] == "FileNotFoundError"
    assert report["write_cwd"] == "FileNotFoundError"  # the directory has no name any more


def test_child_cannot_fork_signal_or_regain_root(report: dict[str, object]) -> None:
    assert report["fork"] == "BlockingIOError"  # RLIMIT_NPROC = 0 binds a non-root uid
    assert report["kill_init"] == "PermissionError"
    assert report["setuid_root"] == "PermissionError"
    assert report["many_files"] == "OSError"  # RLIMIT_NOFILE


def test_child_has_no_network(report: dict[str, object]) -> None:
    assert report["network_isolated"] is True
    assert report["connect"] == "OSError"
