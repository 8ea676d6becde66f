"""A throwaway PostgreSQL for the store and cluster tests: its own temp dir, 127.0.0.1, a
free port, database and login role `pairpad` with a random password (all in `url`).

    with postgres_server() as pg:
        pg.url             # postgresql://pairpad:<password>@127.0.0.1:<port>/pairpad
        pg.new_database()  # another, empty database of the role: postgresql://…/pairpad_<n>
        pg.kill()          # SIGKILL the postmaster; pg.start() recovers the same data

The start/stop code is `scripts.cluster_lib.postgres_server`, shared with `scripts/cluster`;
it is the only PostgreSQL launcher.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from scripts.cluster_lib.postgres_server import (
    PostgresServer,
    postgres_bin_dir,
    running_postgres,
)
from tests.support.required_tool import missing

__all__ = ["PostgresServer", "postgres_server"]


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Skips (fails under CI=true) when PostgreSQL is not installed."""
    if postgres_bin_dir() is None:
        missing("PostgreSQL (initdb)", "postgresql")
    with running_postgres() as server:
        yield server
