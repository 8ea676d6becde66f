"""One Pairpad process of the cluster: `python -m server --host 127.0.0.1 --port P --db
<postgresql url> --redis <redis url>`, its output prefixed with its name (`[pairpad-2] ...`)
on a shared stream, ready when `/health` answers 200.

Each process gets its own TMPDIR, removed when it is stopped: a process killed with SIGKILL
(a fail-over experiment) cannot remove its own temp dirs (Jedi's project dir), and
`scripts/cluster` promises to leave none behind."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from scripts.cluster_lib.process import make_temp_dir, remove_tree, stop, wait_until

REPO = Path(__file__).resolve().parents[2]
START_DEADLINE_S = 60.0
STOP_DEADLINE_S = 20.0  # the server's own graceful stop: close sockets, flush, exit 0


def healthy(url: str) -> bool:
    try:
        # url is always http://127.0.0.1:<port>, built by this module
        with urllib.request.urlopen(url + "/health", timeout=2) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


class PrefixedOutput:
    """Whole lines from several children onto one stream, never interleaved mid-line."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def line(self, prefix: str, text: str) -> None:
        with self.lock:
            self.stream.write(f"{prefix}{text}\n")
            self.stream.flush()


@dataclass
class PairpadProcess:
    name: str
    port: int
    proc: subprocess.Popen[str]
    tmp: Path  # its TMPDIR
    reader: threading.Thread = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, deadline_s: float = START_DEADLINE_S) -> None:
        wait_until(lambda: healthy(self.url), self.proc, self.name, deadline_s)

    def stop(self) -> int:
        code = stop(self.proc, timeout=STOP_DEADLINE_S)
        self.reader.join(timeout=5)
        remove_tree(self.tmp)
        return code


def _forward(pipe: TextIO | None, name: str, out: PrefixedOutput) -> None:
    if pipe is None:
        return
    with pipe:
        for text in pipe:
            out.line(f"[{name}] ", text.rstrip("\n"))


def start_pairpad(name: str, port: int, db_url: str, redis_url: str, out: PrefixedOutput,
                  extra_args: Sequence[str] = (), env: dict[str, str] | None = None,
                  module: str = "server") -> PairpadProcess:
    """Start (not wait for) one process; `module` is what `python -m` runs (default: the
    real server)."""
    tmp = make_temp_dir(f"{name}-")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, "--host", "127.0.0.1", "--port", str(port),
             "--db", db_url, "--redis", redis_url, *extra_args],
            cwd=REPO, env={**os.environ, **(env or {}), "TMPDIR": str(tmp)},
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, text=True, encoding="utf-8", errors="replace",
        )
    except BaseException:
        remove_tree(tmp)
        raise
    reader = threading.Thread(target=_forward, args=(proc.stdout, name, out), name=f"{name}-log",
                              daemon=True)
    reader.start()
    return PairpadProcess(name=name, port=port, proc=proc, tmp=tmp, reader=reader)
