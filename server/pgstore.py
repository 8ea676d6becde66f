"""Rooms in PostgreSQL through asyncpg: the store of a multi-process deployment.

The statements, group commit, keyframes and reads are `SqlStore`'s (server/store.py); this
module adds what several processes sharing one database need (docs/storage.md "PostgreSQL"):

- one writer connection (group commit: one transaction per event-loop turn) and a small pool
  for reads, each read a REPEATABLE READ snapshot so a room loads as of one commit;
- migrations in one transaction under a transaction-scoped advisory lock, so processes that
  start at once migrate once and the others wait, then find the schema current;
- fencing: `claim` increments `rooms.owner_epoch` and the store remembers it; an append is
  written only while the room still has that epoch (checked under a row lock in the commit's
  own transaction, where the write lands), else its future fails with `Fenced`;
- surviving a PostgreSQL restart (docs/deploy.md "When a part fails"): an operation whose
  connection broke or could not be made raises `StoreUnavailable` (a commit's futures fail
  with it: nothing confirmed, though it may have committed; resent updates are recognized),
  and the next one connects afresh: the writer takes a new connection from the pool, whose
  read connections reconnect on acquire.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from server.errors import StoreUnavailable
from server.store import (
    HISTORY_MIGRATION,
    SECRETS_MIGRATION,
    Fenced,
    Fetch,
    Pending,
    SqlStore,
    grouped,
)

log = logging.getLogger("pairpad.store")

# pg_advisory_xact_lock key of the migrations: any constant, the same in every process.
MIGRATION_LOCK = 0x5061697270616401  # "Pairpad" + 1

# The database is unreachable or our connection to it broke (restart, crash, network): a
# refused or reset socket, a closed connection, "the database system is starting up"/"shutting
# down", or asyncpg's protocol left mid-message (a dying server's last FATAL arrives on an idle
# connection before its close: "another operation is in progress"). Anything else (a
# constraint, a bug) is a real failure and keeps its traceback.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError, asyncpg.InterfaceError, asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError)


@contextlib.contextmanager
def unavailable_on_connection_loss(operation: str) -> Iterator[None]:
    try:
        yield
    except CONNECTION_ERRORS as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise StoreUnavailable(f"PostgreSQL is unavailable ({operation}: {reason})") from exc

PG_MIGRATIONS: list[str] = [
    """
    CREATE TABLE rooms (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        language TEXT NOT NULL,
        version BIGINT NOT NULL,
        code_length BIGINT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        owner_epoch BIGINT NOT NULL DEFAULT 0
    );
    CREATE INDEX rooms_by_updated_at ON rooms (updated_at);
    CREATE TABLE keyframes (
        room_id TEXT NOT NULL,
        version BIGINT NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (room_id, version)
    );
    CREATE TABLE updates (
        room_id TEXT NOT NULL,
        version BIGINT NOT NULL,
        client_id TEXT NOT NULL,
        changes TEXT NOT NULL,
        PRIMARY KEY (room_id, version)
    );
    CREATE TABLE runs (
        room_id TEXT NOT NULL,
        run_id TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        result TEXT NOT NULL,
        PRIMARY KEY (room_id, run_id)
    );
    CREATE INDEX runs_by_finished_at ON runs (room_id, finished_at);
    """,
    # Read-only links (docs/protocol.md "Read-only links"); a revoked link keeps its row.
    """
    CREATE TABLE links (
        id TEXT PRIMARY KEY,
        room_id TEXT NOT NULL,
        role TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    CREATE INDEX links_by_room ON links (room_id);
    """,
    HISTORY_MIGRATION,
    SECRETS_MIGRATION,
]


@functools.lru_cache(maxsize=256)
def numbered(sql: str) -> str:
    """`?` placeholders (shared with SQLite) as PostgreSQL's `$1, $2, …`. Our statements hold
    no `?` inside string literals."""
    counter = iter(range(1, 1000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


class PostgresStore(SqlStore):
    """Open with `await PostgresStore.open(url)`; close with `await close()`."""

    def __init__(self, pool: asyncpg.Pool, writer: asyncpg.Connection, keyframe_interval: int,
                 history: int, commit_timeout: float = 10.0) -> None:
        super().__init__(keyframe_interval, history)
        self._pool = pool
        self._conn: asyncpg.Connection | None = writer  # None: take a new one for the next batch
        self._commit_timeout = commit_timeout
        self._epochs: dict[str, int] = {}

    @classmethod
    async def open(cls, url: str, *, keyframe_interval: int = 200, history: int = 10_000,
                   readers: int = 4, connect_timeout: float = 10.0,
                   commit_timeout: float = 10.0) -> PostgresStore:
        """Connect (a writer plus up to `readers` read connections), migrate, start the
        writer. Raises OSError or asyncpg's errors when the database cannot be reached.

        A commit that has not finished after `commit_timeout` seconds (a database that stopped
        answering without closing the socket) drops its connection, which fails the batch."""
        pool = await asyncpg.create_pool(url, min_size=2, max_size=readers + 1,
                                         timeout=connect_timeout)
        try:
            writer = await pool.acquire()
            try:
                await migrate(writer)
            except BaseException:
                await pool.release(writer)
                raise
        except BaseException:
            await pool.close()
            raise
        return cls(pool, writer, keyframe_interval, history, commit_timeout)

    async def close(self) -> None:
        """Flush what is queued, then close."""
        await self._stop_writer()
        if self._conn is not None:
            await self._pool.release(self._conn)
        await self._pool.close()

    # -- fencing -----------------------------------------------------------------------------

    async def claim(self, room_id: str) -> int:
        """Become the room's only writer: increment its `owner_epoch` and write with it from
        now on. A store that claimed before keeps its older epoch, so its appends fail with
        `Fenced`; claim before loading, so the load sees every write of the old owner."""
        with unavailable_on_connection_loss("claim"):
            async with self._pool.acquire() as conn:
                epoch = await conn.fetchval("UPDATE rooms SET owner_epoch = owner_epoch + 1"
                                            " WHERE id = $1 RETURNING owner_epoch", room_id)
        if epoch is None:
            raise LookupError(f"room {room_id!r} does not exist")
        self._epochs[room_id] = int(epoch)
        log.info("event=store.claimed room=%s epoch=%d", room_id, epoch)
        return int(epoch)

    def _fence(self, room_id: str) -> tuple[str, int] | None:
        # A room this store never claimed is written as epoch 0: the epoch of a room nobody
        # claimed yet, so one process without claims works, and loses to any claimer.
        return room_id, self._epochs.get(room_id, 0)

    # -- backend -----------------------------------------------------------------------------

    async def _commit(self, batch: list[Pending]) -> dict[Pending, Exception]:
        with unavailable_on_connection_loss("commit"):
            conn = await self._writer_connection()
            # Terminating the connection fails whatever awaits it at once: no hung room.
            watchdog = asyncio.get_running_loop().call_later(
                self._commit_timeout, self._abandon, conn)
            try:
                async with conn.transaction():
                    refused = await self._refuse_fenced(conn, batch)
                    kept = [p for p in batch if p not in refused]
                    for sql, params in grouped(kept).items():
                        await conn.executemany(numbered(sql), params)
            except BaseException as exc:
                # An error the server answered (a constraint) rolled back on a sound
                # connection; after anything else its state is unknown: the next batch
                # takes a fresh one.
                if not isinstance(exc, asyncpg.PostgresError) or isinstance(
                        exc, CONNECTION_ERRORS):
                    self._drop_writer(conn)
                raise
            finally:
                watchdog.cancel()
        return refused

    def _drop_writer(self, conn: asyncpg.Connection) -> None:
        if self._conn is conn:
            self._conn = None
        with contextlib.suppress(asyncpg.InterfaceError):  # already back in the pool
            conn.terminate()  # gives its pool slot back, to reconnect on the next acquire

    async def _writer_connection(self) -> asyncpg.Connection:
        """The writer's connection; a new one from the pool when the last one broke."""
        conn = self._conn
        if conn is not None and not _closed(conn):
            return conn
        if conn is not None:
            self._conn = None
            await self._pool.release(conn)  # a closed one is dropped; its slot reconnects
        self._conn = await self._pool.acquire()
        log.info("event=store.writer_connected")
        return self._conn

    def _abandon(self, conn: asyncpg.Connection) -> None:
        log.warning("event=store.commit_timeout seconds=%.1f", self._commit_timeout)
        self._drop_writer(conn)

    async def _refuse_fenced(self, conn: asyncpg.Connection, batch: list[Pending]
                             ) -> dict[Pending, Exception]:
        """The appends whose room no longer has their epoch. The room rows stay locked (FOR
        UPDATE) until the commit, so a claim waits for this batch instead of racing it."""
        fences = [p.fence for p in batch if p.fence is not None]
        if not fences:
            return {}
        rows = await conn.fetch(
            "SELECT id, owner_epoch FROM rooms WHERE id = ANY($1::text[]) ORDER BY id"
            " FOR UPDATE", sorted({room for room, _ in fences}))
        epochs: dict[str, int | None] = {str(r[0]): int(r[1]) for r in rows}
        epochs.update({p.creates: 0 for p in batch if p.creates is not None})
        refused: dict[Pending, Exception] = {}
        for pending in batch:
            if pending.fence is None:
                continue
            room, epoch = pending.fence
            found = epochs.get(room)
            if found != epoch:
                log.warning("event=store.fenced room=%s epoch=%d owner_epoch=%s", room, epoch,
                            found)
                refused[pending] = Fenced(f"room {room!r}: this store claimed epoch {epoch},"
                                          f" the room is at {found}")
        return refused

    @contextlib.asynccontextmanager
    async def _reader(self) -> AsyncIterator[Fetch]:
        # The pool replaces a connection that closed when it is next acquired.
        with unavailable_on_connection_loss("read"):
            async with self._pool.acquire() as conn, conn.transaction(
                    isolation="repeatable_read", readonly=True):
                async def fetch(sql: str, *params: Any) -> Sequence[Sequence[Any]]:
                    rows: Sequence[Sequence[Any]] = await conn.fetch(numbered(sql), *params)
                    return rows
                yield fetch


def _closed(conn: asyncpg.Connection) -> bool:
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:  # a pool proxy whose connection closed went back already
        return True


async def reachable(url: str, connect_timeout: float = 5.0) -> str | None:
    """None when PostgreSQL at `url` accepts a connection and a query, else why not, in a
    line without the password (the start-up check of server/cli.py)."""
    try:
        conn = await asyncpg.connect(url, timeout=connect_timeout)
        try:
            await conn.fetchval("SELECT 1")
        finally:
            await conn.close()
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError,
            ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        password = urlsplit(url).password
        return reason.replace(password, "***") if password else reason
    return None


async def migrate(conn: asyncpg.Connection) -> None:
    """Bring the schema to `len(PG_MIGRATIONS)` in one transaction, under an advisory lock:
    a process that starts while another migrates waits for it, then finds nothing to do."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                           " only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),"
                           " version INTEGER NOT NULL)")
        current = await conn.fetchval("SELECT version FROM schema_version")
        if current is None:
            current = 0
            await conn.execute("INSERT INTO schema_version (version) VALUES (0)")
        if current > len(PG_MIGRATIONS):
            raise RuntimeError(f"database schema {current} is newer than this server knows")
        for target in range(current, len(PG_MIGRATIONS)):
            await conn.execute(PG_MIGRATIONS[target])
            log.info("event=store.migrated schema_version=%d", target + 1)
        await conn.execute("UPDATE schema_version SET version = $1", len(PG_MIGRATIONS))
