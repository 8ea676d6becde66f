"""One Pairpad process of a cluster for live tests: `python -m server --db <postgresql url>
--redis <redis url>` on a free 127.0.0.1 port, output in a log file, ready when `/health`
answers (tests/support/live_server.py's LiveServer, so `stop()`, `log_text()`, `url` and
`ws_url` work the same).

    with postgres_server() as pg, redis_server() as redis:
        a = launch_member(pg.url, redis.url, tmp_path / "a.log")
        b = launch_member(pg.url, redis.url, tmp_path / "b.log")
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.live_server import REPO, LiveServer, free_port, wait_healthy

ADMIN_TOKEN = "test-admin-token"  # the same in every member, as docs/deploy.md asks


def launch_member(db_url: str, redis_url: str, log: Path, *, port: int | None = None,
                  env: dict[str, str] | None = None, args: tuple[str, ...] = (),
                  module: str = "server") -> LiveServer:
    """Start one member and wait until it is healthy (RuntimeError if it exits first).
    `LiveServer.db` is the log's folder: a member has no SQLite file."""
    port = port or free_port()
    full_env = {**os.environ, "PAIRPAD_ADMIN_TOKEN": ADMIN_TOKEN, **(env or {})}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, "--host", "127.0.0.1", "--port", str(port),
             "--db", db_url, "--redis", redis_url, *args],
            cwd=REPO, env=full_env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT,
        )
    member = LiveServer(proc=proc, port=port, db=log.parent, log=log)
    try:
        wait_healthy(member.url, proc)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return member
