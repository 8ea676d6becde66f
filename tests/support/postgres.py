"""A throwaway PostgreSQL server for the store tests: `initdb` and `pg_ctl` in a temporary
folder, listening on a free 127.0.0.1 port, trust authentication, fsync off (tests need no
durability). As root it runs as the `postgres` user, since PostgreSQL refuses to run as root.

Without PostgreSQL installed the tests that need it are skipped, except under CI=true, where
they fail (scripts/test installs Debian's `postgresql` when it can)."""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.live_server import free_port


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian's layout), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(found[-1]).parent if found else None


def require_postgres() -> Path:
    """The bin folder, or skip (fail under CI=true) with the reason."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        reason = "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb is missing)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI must not skip the PostgreSQL tests", pytrace=False)
        pytest.skip(reason)
    return bin_dir


@dataclass
class PostgresServer:
    bin_dir: Path
    port: int
    user: str
    _names: Iterator[int] = field(default_factory=itertools.count)

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"test{next(self._names)}"
        subprocess.run([str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", self.user, name], check=True, capture_output=True)
        return self.url(name)


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@contextmanager
def postgres_server(bin_dir: Path) -> Iterator[PostgresServer]:
    """initdb + start on a free port; stop (`-m fast`) and remove everything at the end."""
    root = Path(tempfile.mkdtemp(prefix="pairpad-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        data, log = root / "data", root / "server.log"
        user = "postgres"
        subprocess.run(_as_owner([str(bin_dir / "initdb"), "-D", str(data), "-U", user,
                                  "--auth=trust", "--encoding=UTF8", "--no-sync"]),
                       check=True, capture_output=True)
        port = free_port()
        options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c full_page_writes=off"
        started = subprocess.run(
            _as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
                       "-w", "-t", "60", "start"]), capture_output=True, text=True)
        if started.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start: {started.stderr}"
                               f"{log.read_text() if log.exists() else ''}")
        try:
            yield PostgresServer(bin_dir, port, user)
        finally:
            subprocess.run(_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast",
                                      "-w", "stop"]), check=False, capture_output=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
