"""A throwaway PostgreSQL on 127.0.0.1: `initdb` into its own temp dir, one database and one
login role with a password, `postgres` in the foreground as our child (no `pg_ctl`, so
stopping and killing it is a signal to a pid we own).

PostgreSQL refuses to run as root. When we are root, the data dir is given to the `postgres`
user and every PostgreSQL program runs as that user (Popen's `user=`, which is what
`runuser -u postgres --` does, without a wrapper process between us and the postmaster);
otherwise it runs as whoever we are. Over TCP the role logs in with its password
(scram-sha-256); only the Unix socket inside the temp dir trusts the local superuser, which
is how the role and databases are created.

`new_database()` adds another empty database owned by the role and returns its URL, so that
tests can share one server (one per session) and still start each from nothing.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import secrets
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from scripts.cluster_lib.process import (
    StartError,
    find_binary,
    free_port,
    kill,
    make_temp_dir,
    remove_tree,
    stop,
    wait_until,
)

START_DEADLINE_S = 60.0  # initdb alone takes seconds on a loaded 2-core machine
DATABASE = "pairpad"
ROLE = "pairpad"


def postgres_bin_dir() -> Path | None:
    """Where `initdb` and `postgres` live: PATH first, else Debian's newest
    /usr/lib/postgresql/<version>/bin."""
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                      key=lambda d: int(Path(d).parent.name) if Path(d).parent.name.isdigit()
                      else 0, reverse=True)
    initdb = find_binary("initdb", tuple(versions))
    # resolve: a symlink on PATH (/usr/local/bin/initdb) points into the dir with pg_isready
    return Path(initdb).resolve().parent if initdb else None


def _run_as() -> str | None:
    """The OS user PostgreSQL runs as: `postgres` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise StartError("running as root needs a 'postgres' user to run PostgreSQL "
                         "(Debian's postgresql package creates it)") from None
    return "postgres"


@dataclass
class PostgresServer:
    port: int
    dir: Path
    bin_dir: Path
    password: str
    user: str | None  # OS user that runs the PostgreSQL programs (None: ourselves)
    fsync: bool = False  # off: a throwaway cluster; on: what a commit costs for real
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    @property
    def url(self) -> str:
        """The URL of the `pairpad` database (the one `scripts/cluster` uses)."""
        return self.database_url(DATABASE)

    def database_url(self, database: str) -> str:
        """The role's URL (with its password, over TCP) for `database` on this server."""
        return f"postgresql://{ROLE}:{self.password}@127.0.0.1:{self.port}/{database}"

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def log(self) -> Path:
        return self.dir / "postgres.log"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _run(self, program: str, *args: str) -> str:
        result = subprocess.run(
            [str(self.bin_dir / program), *args], cwd=self.dir, user=self.user,
            stdin=subprocess.DEVNULL, capture_output=True, timeout=START_DEADLINE_S,
            check=False,
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace")
            raise StartError(f"{program} {' '.join(args)} failed with {result.returncode}:\n"
                             f"{output}")
        return result.stdout.decode(errors="replace")

    def init(self) -> None:
        """initdb, then start once to create the role and database."""
        if self.user is not None:
            os.chown(self.dir, pwd.getpwnam(self.user).pw_uid, pwd.getpwnam(self.user).pw_gid)
        # --no-sync and fsync=off below: a throwaway cluster; a crash of this machine may lose
        # it, a kill of postgres does not (the OS still has the writes).
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync")
        self.start()
        self._superuser_sql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{self.password}'",
                            f"CREATE DATABASE {DATABASE} OWNER {ROLE}")

    def new_database(self) -> str:
        """A fresh, empty database owned by the role (`pairpad_<n>`); its URL."""
        name = f"{DATABASE}_{next(self._numbers)}"
        self._superuser_sql(f"CREATE DATABASE {name} OWNER {ROLE}")
        return self.database_url(name)

    def _superuser_sql(self, *statements: str) -> None:
        """Run `statements` as the superuser over the trusted Unix socket; one -c each, so
        each runs in its own transaction (CREATE DATABASE cannot run inside one)."""
        commands = [arg for statement in statements for arg in ("-c", statement)]
        self._run("psql", "-h", str(self.dir), "-p", str(self.port), "-U", "postgres",
                  "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", *commands)

    def query(self, sql: str) -> str:
        """One query as the superuser (as `_superuser_sql`), its rows unaligned, e.g. "42"."""
        return self._run("psql", "-h", str(self.dir), "-p", str(self.port), "-U", "postgres",
                         "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql).strip()

    def _ready(self) -> bool:
        result = subprocess.run(
            [str(self.bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port),
             "-d", "postgres"], stdin=subprocess.DEVNULL, capture_output=True, timeout=10,
            check=False,
        )
        return result.returncode == 0

    def start(self) -> None:
        """Start the initialized cluster on `self.port` (data kept) and wait until ready."""
        if self.running:
            raise StartError(f"postgres on port {self.port} is already running")
        with self.log.open("ab") as out:
            if self.user is not None:
                os.chown(self.log, pwd.getpwnam(self.user).pw_uid, -1)
            self.proc = subprocess.Popen(
                [str(self.bin_dir / "postgres"), "-D", str(self.data), "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.dir}",
                 "-c", f"fsync={'on' if self.fsync else 'off'}", "-c", "max_connections=200"],
                cwd=self.dir, user=self.user, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            wait_until(self._ready, self.proc, f"postgres on port {self.port}",
                       START_DEADLINE_S, self.log)
        except BaseException:
            kill(self.proc)
            raise

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would (its backends exit when they notice);
        `start()` then runs crash recovery on the same data."""
        if self.proc is not None:
            kill(self.proc)

    def stop(self) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, disconnect, checkpoint)."""
        if self.proc is not None:
            stop(self.proc, signal.SIGINT, timeout=30)


@contextmanager
def running_postgres(port: int | None = None, fsync: bool = False,
                     ) -> Iterator[PostgresServer]:
    """A fresh PostgreSQL with database and role `pairpad` (random password, in `url`),
    stopped and its temp dir removed on exit; `fsync=True` makes commits durable (and slower).
    """
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise StartError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    server = PostgresServer(port=port or free_port(), dir=make_temp_dir("pairpad-pg-"),
                            bin_dir=bin_dir, password=secrets.token_hex(12), user=_run_as(),
                            fsync=fsync)
    try:
        server.init()
        yield server
    finally:
        server.stop()
        remove_tree(server.dir)
