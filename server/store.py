"""Rooms in a SQL database: the persistence seam (`RoomStore` is all the rest of the server
sees) and what its two backends share.

`SqlStore` holds the logic both backends run: the statements (written once, `?` placeholders,
SQL that SQLite and PostgreSQL both accept), group commit, the keyframe schedule and the
reads. `Store` below is SQLite through aiosqlite (one process); `server/pgstore.py` is
PostgreSQL through asyncpg (several processes, with fencing of room ownership).

Group commit: writes go through one queue and a single writer task that commits everything
queued in the same event-loop turn as one transaction; a caller awaits the commit of its own
write before it broadcasts. The tables are described in docs/storage.md.

SQLite: WAL mode, `synchronous=NORMAL`: a commit survives a killed process (docs/
architecture.md "Guarantees", 2), though not a power cut. Reads, migrations and checkpoints go
through aiosqlite's thread; a group commit runs on the event loop itself through a second,
synchronous connection (docs/storage.md "Commits on the event loop"): with `synchronous=NORMAL`
a WAL commit is a few `write()`s into the page cache, ~0.1 ms, cheaper than the two thread
hand-offs it replaces, which cost milliseconds when the cores are busy. A commit slower than
`INLINE_SLOW_S` sends the commits to the thread for `THREADED_S`, so a struggling disk stalls
the loop once, not on every commit. `MIGRATIONS[i]` moves `PRAGMA user_version` from i to i+1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiosqlite

from server.errors import StoreUnavailable

log = logging.getLogger("pairpad.store")

# Shared by SQLite and PostgreSQL (both accept it).
HISTORY_MIGRATION = """
    ALTER TABLE updates ADD COLUMN author TEXT;
    ALTER TABLE updates ADD COLUMN made_at TEXT;
    ALTER TABLE updates ADD COLUMN inserted BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE updates ADD COLUMN deleted BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE keyframes ADD COLUMN made_at TEXT;
    ALTER TABLE keyframes ADD COLUMN author TEXT;
    ALTER TABLE keyframes ADD COLUMN client_id TEXT;
    ALTER TABLE keyframes ADD COLUMN inserted BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE keyframes ADD COLUMN deleted BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE keyframes ADD COLUMN updates BIGINT NOT NULL DEFAULT 0;
    UPDATE keyframes SET made_at = (SELECT created_at FROM rooms WHERE rooms.id = room_id)
        WHERE version = 0;
"""

# Secrets the server generated, by name: only a digest, never the secret itself. The admin token
# (docs/protocol.md "Admin token") is the one so far.
SECRETS_MIGRATION = """
CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

MIGRATIONS: list[str] = [
    """
    CREATE TABLE rooms (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        language TEXT NOT NULL,
        version INTEGER NOT NULL,
        code_length INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX rooms_by_updated_at ON rooms (updated_at);
    CREATE TABLE keyframes (
        room_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (room_id, version)
    ) WITHOUT ROWID;
    CREATE TABLE updates (
        room_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        client_id TEXT NOT NULL,
        changes TEXT NOT NULL,
        PRIMARY KEY (room_id, version)
    ) WITHOUT ROWID;
    CREATE TABLE runs (
        room_id TEXT NOT NULL,
        run_id TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        result TEXT NOT NULL,
        PRIMARY KEY (room_id, run_id)
    ) WITHOUT ROWID;
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
    ) WITHOUT ROWID;
    CREATE INDEX links_by_room ON links (room_id);
    """,
    # History (docs/storage.md "History"): each update's author, time and size; every
    # keyframe is kept, with what it sums up of the updates since the previous one.
    HISTORY_MIGRATION,
    SECRETS_MIGRATION,
]

RUNS_KEPT = 20
LINKS_PER_QUERY = 100  # ids in one `IN (...)` of `revoked_links`
_VALID_LINKS = ("SELECT id FROM links WHERE revoked_at IS NULL AND id IN ("  # noqa: S608
                + ", ".join("?" * LINKS_PER_QUERY) + ")")  # only placeholders are joined


class Fenced(Exception):
    """An append by a store whose claim on the room is no longer the newest: another process
    claimed the room since (docs/storage.md "Fencing"). Nothing of that append was written."""


@dataclass(frozen=True)
class RoomRecord:
    room_id: str
    name: str
    language: str
    version: int
    code_length: int
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class LinkRecord:
    """A read-only link of a room (docs/storage.md "links"); `revoked_at` None while valid."""

    link_id: str
    room_id: str
    role: str
    created_at: str
    revoked_at: str | None = None


@dataclass(frozen=True)
class StoredUpdate:
    version: int  # the room's version after this update
    client_id: str
    changes: Any  # ChangeSet JSON
    author: str | None = None  # the pusher's display name then (None: stored before history)
    time: str | None = None  # when the server accepted it
    inserted: int = 0  # UTF-16 units written
    deleted: int = 0  # UTF-16 units removed


@dataclass(frozen=True)
class Keyframe:
    version: int
    text: str
    time: str | None


@dataclass(frozen=True)
class HistoryEntry:
    """An update, or (older than the updates kept) a keyframe standing for the `updates`
    since the previous keyframe: its author and time are its last update's."""
    version: int
    author: str | None
    client_id: str | None
    time: str | None
    inserted: int
    deleted: int
    updates: int


@dataclass(frozen=True)
class Stretch:
    """A keyframe (None: no keyframe that old is kept) and the kept updates after it."""
    record: RoomRecord
    keyframe: Keyframe | None
    updates: list[StoredUpdate]
    oldest_full: int  # every version from here to the room's can be read (`_kept_from`)


@dataclass(frozen=True)
class LoadedRoom:
    record: RoomRecord
    keyframe_version: int
    keyframe_text: str
    updates: list[StoredUpdate]  # every update after min(keyframe, version - history)


class RoomStore(Protocol):
    """The persistence seam: everything the rooms and routes ask of storage. `Store` is the
    SQLite implementation, `server.pgstore.PostgresStore` the multi-process one."""

    def append(self, room_id: str, updates: Sequence[StoredUpdate], text: str,
               code_length: int, updated_at: str, then: Committed | None = None,
               ) -> asyncio.Future[None]: ...

    async def claim(self, room_id: str) -> int: ...

    async def flush(self) -> None: ...

    async def close(self) -> None: ...

    async def create_room(self, record: RoomRecord, text: str) -> None: ...

    async def delete_room(self, room_id: str) -> None: ...

    async def save_run(self, room_id: str, run_id: str, finished_at: str,
                       result: dict[str, Any]) -> None: ...

    async def get_room(self, room_id: str) -> RoomRecord | None: ...

    async def load_room(self, room_id: str) -> LoadedRoom | None: ...

    async def recent_runs(self, room_id: str, limit: int = ...) -> list[dict[str, Any]]: ...

    async def list_rooms(self, limit: int, offset: int) -> tuple[list[RoomRecord], int]: ...

    async def count_rooms(self) -> int: ...

    async def idle_rooms(self, before: str, limit: int = ...) -> list[str]: ...

    async def create_link(self, link: LinkRecord) -> None: ...

    async def get_link(self, link_id: str) -> LinkRecord | None: ...

    async def room_links(self, room_id: str) -> list[LinkRecord]: ...

    async def revoke_link(self, link_id: str, revoked_at: str) -> None: ...

    async def revoked_links(self, link_ids: Sequence[str]) -> set[str]: ...

    async def history(self, room_id: str, before: int, limit: int
                      ) -> tuple[list[HistoryEntry], int] | None: ...

    async def stretch(self, room_id: str, version: int | None) -> Stretch | None: ...


@dataclass
class Write:
    sql: str
    params: Sequence[Any]


# Told a commit's outcome (None: committed) in the writer's own step, a loop turn before the
# callbacks of its future run.
Committed = Callable[[BaseException | None], None]


@dataclass(eq=False)
class Pending:
    """One caller's writes, committed together or not at all, and the future it awaits."""
    writes: list[Write]
    future: asyncio.Future[None]
    fence: tuple[str, int] | None = None  # (room, epoch): write only while the room has it
    creates: str | None = None  # the room these writes create
    then: Committed | None = None


# A query: (sql with ? placeholders, *params) → rows.
Fetch = Callable[..., Awaitable[Sequence[Sequence[Any]]]]

# The RunResult fields added after runs were first stored, with what an older run reads as.
_ADDED_LATER: dict[str, Any] = {"reason": None, "limit": None, "startedAt": None,
                                "stoppedBy": None}


class SqlStore:
    """What the SQLite and PostgreSQL stores share. A backend implements `_commit` (one
    transaction for a batch) and `_reader` (a consistent read)."""

    def __init__(self, keyframe_interval: int, history: int) -> None:
        self._keyframe_interval = keyframe_interval
        self._history = history
        self._queue: asyncio.Queue[Pending] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_loop(), name="store-writer")
        self._last_keyframe: dict[str, int] = {}
        self.commits = 0

    async def _stop_writer(self) -> None:
        await self.flush()
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer

    # -- backend -----------------------------------------------------------------------------

    async def _commit(self, batch: list[Pending]) -> dict[Pending, Exception]:
        """Commit `batch` as one transaction; return the entries refused alone (nothing of
        them written, the rest committed). Raise to fail them all."""
        raise NotImplementedError

    def _reader(self) -> contextlib.AbstractAsyncContextManager[Fetch]:
        raise NotImplementedError

    async def _after_commit(self) -> None:
        """Upkeep after a commit's callers were answered; the next commit waits for it."""

    async def close(self) -> None:
        """Flush what is queued, then close."""
        raise NotImplementedError

    # -- writes ------------------------------------------------------------------------------

    def _submit(self, writes: list[Write], fence: tuple[str, int] | None = None,
                creates: str | None = None, then: Committed | None = None,
                ) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(Pending(writes, future, fence, creates, then))
        return future

    async def flush(self) -> None:
        await self._submit([])

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            started = time.perf_counter()
            try:
                refused = await self._commit(batch) if any(p.writes for p in batch) else {}
            except Exception as exc:  # a failed commit fails every write in it, loudly
                if isinstance(exc, StoreUnavailable):  # expected while the database restarts
                    log.warning("event=store.commit_failed writes=%d error=%r", len(batch),
                                exc.message)
                else:
                    log.exception("event=store.commit_failed writes=%d", len(batch))
                self._answer(batch, dict.fromkeys(batch, exc))
                continue
            self.commits += 1
            log.debug("event=store.commit writes=%d refused=%d ms=%.2f", len(batch),
                      len(refused), (time.perf_counter() - started) * 1000)
            self._answer(batch, refused)
            try:
                await self._after_commit()
            except Exception:  # upkeep may fail; the writer must not
                log.exception("event=store.upkeep_failed")

    @staticmethod
    def _answer(batch: list[Pending], errors: dict[Pending, Exception]) -> None:
        """Settle every future of a commit, then tell each `then`: a room that publishes on
        its commit finds the later appends of the same commit settled, and leaves the
        publish to the last one."""
        for pending in batch:
            if not pending.future.done():
                error = errors.get(pending)
                if error is None:
                    pending.future.set_result(None)
                else:
                    pending.future.set_exception(error)
        for pending in batch:
            if pending.then is not None:
                try:
                    pending.then(errors.get(pending))
                except Exception:  # a caller's failure is not the writer's
                    log.exception("event=store.then_failed")

    def _fence(self, room_id: str) -> tuple[str, int] | None:
        """The epoch an append of this store must find on the room (None: not checked)."""
        return None

    async def claim(self, room_id: str) -> int:
        """Take ownership of a room (docs/storage.md "Fencing"). One process: nothing to fence."""
        return 0

    async def create_room(self, record: RoomRecord, text: str) -> None:
        self._last_keyframe[record.room_id] = 0
        await self._submit([
            Write("INSERT INTO rooms (id, name, language, version, code_length, created_at,"
                  " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                  (record.room_id, record.name, record.language, record.version,
                   record.code_length, record.created_at, record.updated_at)),
            Write("INSERT INTO keyframes (room_id, version, text, made_at) VALUES (?, ?, ?, ?)",
                  (record.room_id, record.version, text, record.created_at)),
        ], creates=record.room_id)

    def append(self, room_id: str, updates: Sequence[StoredUpdate], text: str, code_length: int,
               updated_at: str, then: Committed | None = None) -> asyncio.Future[None]:
        """Queue accepted updates (and a keyframe when due); the future resolves on commit, or
        fails with `Fenced` when another process claimed the room since this store did.
        `then`, if given, hears the same outcome one event-loop turn sooner (`Committed`).

        `text` is the document after the last update. Keyframes bound what loading replays to
        `keyframe_interval` updates, and seeking any version of the history too: all of them
        are kept, each summing up the updates since the previous one (docs/storage.md
        "History"). Updates older than `history` are pruned when one is written.
        A version already stored fails the commit (primary key): updates are never replaced.
        """
        version = updates[-1].version
        writes = [
            Write("INSERT INTO updates (room_id, version, client_id, changes, author, made_at,"
                  " inserted, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  (room_id, u.version, u.client_id,
                   json.dumps(u.changes, separators=(",", ":")), u.author, u.time,
                   u.inserted, u.deleted))
            for u in updates
        ]
        writes.append(Write("UPDATE rooms SET version = ?, code_length = ?, updated_at = ?"
                            " WHERE id = ?", (version, code_length, updated_at, room_id)))
        last = self._last_keyframe.get(room_id, 0)
        if version - last >= self._keyframe_interval:
            self._last_keyframe[room_id] = version
            final = updates[-1]
            writes += [
                # Runs after this batch's inserts of updates (grouped keeps first appearance).
                Write("INSERT INTO keyframes (room_id, version, text, made_at, author, client_id,"
                      " inserted, deleted, updates) SELECT CAST(? AS TEXT), CAST(? AS BIGINT),"
                      " CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT),"
                      " COALESCE(SUM(inserted), 0), COALESCE(SUM(deleted), 0), COUNT(*)"
                      " FROM updates WHERE room_id = ? AND version > ? AND version <= ?"
                      " ON CONFLICT (room_id, version) DO UPDATE SET text = excluded.text",
                      (room_id, version, text, final.time, final.author, final.client_id,
                       room_id, last, version)),
                # Keep every update after the newest keyframe at or below version - history,
                # so each of the last `history` versions can be read (keyframe + updates).
                Write("DELETE FROM updates WHERE room_id = ? AND version <= (SELECT"
                      " MAX(version) FROM keyframes WHERE room_id = ? AND version <= ?)",
                      (room_id, room_id, version - self._history)),
            ]
        return self._submit(writes, fence=self._fence(room_id), then=then)

    async def save_run(self, room_id: str, run_id: str, finished_at: str,
                       result: dict[str, Any]) -> None:
        await self._submit([
            Write("INSERT INTO runs (room_id, run_id, finished_at, result) VALUES (?, ?, ?, ?)"
                  " ON CONFLICT (room_id, run_id) DO UPDATE SET finished_at ="
                  " excluded.finished_at, result = excluded.result",
                  (room_id, run_id, finished_at, json.dumps(result))),
            Write("DELETE FROM runs WHERE room_id = ? AND run_id NOT IN (SELECT run_id FROM runs"
                  " WHERE room_id = ? ORDER BY finished_at DESC LIMIT ?)",
                  (room_id, room_id, RUNS_KEPT)),
        ])

    async def delete_room(self, room_id: str) -> None:
        self._last_keyframe.pop(room_id, None)
        await self._submit([
            Write(sql, (room_id,)) for sql in (
                "DELETE FROM updates WHERE room_id = ?", "DELETE FROM keyframes WHERE room_id = ?",
                "DELETE FROM runs WHERE room_id = ?", "DELETE FROM links WHERE room_id = ?",
                "DELETE FROM rooms WHERE id = ?")
        ])

    async def create_link(self, link: LinkRecord) -> None:
        await self._submit([Write(
            "INSERT INTO links (id, room_id, role, created_at, revoked_at) VALUES (?, ?, ?, ?, ?)",
            (link.link_id, link.room_id, link.role, link.created_at, link.revoked_at))])

    async def revoke_link(self, link_id: str, revoked_at: str) -> None:
        """Mark the link revoked (the first revocation's time stays)."""
        await self._submit([Write(
            "UPDATE links SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (revoked_at, link_id))])

    # -- reads -------------------------------------------------------------------------------

    async def get_room(self, room_id: str) -> RoomRecord | None:
        async with self._reader() as fetch:
            return await _room(fetch, room_id)

    async def load_room(self, room_id: str) -> LoadedRoom | None:
        async with self._reader() as fetch:
            record = await _room(fetch, room_id)
            if record is None:
                return None
            rows = await fetch("SELECT version, text FROM keyframes WHERE room_id = ?"
                               " ORDER BY version DESC LIMIT 1", room_id)
            if not rows:
                raise RuntimeError(f"room {room_id} has no keyframe")
            keyframe_version, keyframe_text = int(rows[0][0]), str(rows[0][1])
            since = min(keyframe_version, record.version - self._history)
            rows = await fetch("SELECT version, client_id, changes FROM updates"
                               " WHERE room_id = ? AND version > ? ORDER BY version",
                               room_id, since)
        self._last_keyframe[room_id] = keyframe_version
        updates = [StoredUpdate(int(v), str(c), json.loads(ch)) for v, c, ch in rows]
        return LoadedRoom(record, keyframe_version, keyframe_text, updates)

    async def recent_runs(self, room_id: str, limit: int = RUNS_KEPT) -> list[dict[str, Any]]:
        async with self._reader() as fetch:
            rows = await fetch("SELECT result FROM runs WHERE room_id = ?"
                               " ORDER BY finished_at DESC LIMIT ?", room_id, limit)
        # Runs stored before a field of RunResult existed get it as null, so every RunResult
        # carries them all (docs/protocol.md `ExecutionResult`, `RunResult`).
        return [{**_ADDED_LATER, **json.loads(r[0])} for r in rows]

    async def list_rooms(self, limit: int, offset: int) -> tuple[list[RoomRecord], int]:
        async with self._reader() as fetch:
            rows = await fetch("SELECT id, name, language, version, code_length, created_at,"
                               " updated_at FROM rooms ORDER BY updated_at DESC, id"
                               " LIMIT ? OFFSET ?", limit, offset)
            total = await fetch("SELECT COUNT(*) FROM rooms")
        return [RoomRecord(*r) for r in rows], int(total[0][0])

    async def secret_digest(self, name: str) -> str | None:
        async with self._reader() as fetch:
            rows = await fetch("SELECT digest FROM secrets WHERE name = ?", name)
        return str(rows[0][0]) if rows else None

    async def keep_secret_digest(self, name: str, digest: str, created_at: str) -> str:
        """Store `digest` under `name` unless one is stored already (another process may have
        stored its own first); return the digest that is kept."""
        await self._submit([Write(
            "INSERT INTO secrets (name, digest, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO NOTHING", (name, digest, created_at))])
        kept = await self.secret_digest(name)
        if kept is None:
            raise RuntimeError(f"secret {name!r} was not stored")
        return kept

    async def count_rooms(self) -> int:
        async with self._reader() as fetch:
            rows = await fetch("SELECT COUNT(*) FROM rooms")
        return int(rows[0][0])

    async def idle_rooms(self, before: str, limit: int = 500) -> list[str]:
        async with self._reader() as fetch:
            rows = await fetch("SELECT id FROM rooms WHERE updated_at < ?"
                               " ORDER BY updated_at LIMIT ?", before, limit)
        return [str(r[0]) for r in rows]

    # -- history (docs/storage.md "History") ---------------------------------------------------

    async def history(self, room_id: str, before: int, limit: int
                      ) -> tuple[list[HistoryEntry], int] | None:
        """Up to `limit` entries of versions below `before`, newest first: the kept updates,
        then the older keyframes; and the oldest version from which every version can be read
        (`_kept_from`). None: no room."""
        async with self._reader() as fetch:
            record = await _room(fetch, room_id)
            if record is None:
                return None
            before_kept, oldest = await _kept_from(fetch, room_id, record.version)
            rows = await fetch("SELECT version, author, client_id, made_at, inserted, deleted, 1"
                               " FROM updates WHERE room_id = ? AND version < ?"
                               " ORDER BY version DESC LIMIT ?", room_id, before, limit)
            if len(rows) < limit:
                rows = [*rows, *await fetch(
                    "SELECT version, author, client_id, made_at, inserted, deleted, updates"
                    " FROM keyframes WHERE room_id = ? AND version < ? AND version > 0"
                    " ORDER BY version DESC LIMIT ?",
                    room_id, min(before, before_kept + 1), limit - len(rows))]
        return [HistoryEntry(int(v), a, c, t, int(i), int(d), int(n))
                for v, a, c, t, i, d, n in rows], oldest

    async def stretch(self, room_id: str, version: int | None) -> Stretch | None:
        """The newest keyframe at or below `version` and the kept updates after it, up to
        `version`; `version` None: from the oldest keyframe from which every update is kept
        to the room's version (all that blame can know). None: no room."""
        async with self._reader() as fetch:
            record = await _room(fetch, room_id)
            if record is None:
                return None
            _, oldest = await _kept_from(fetch, room_id, record.version)
            upto = record.version if version is None else min(version, record.version)
            if version is not None:
                rows = await fetch("SELECT version, text, made_at FROM keyframes"
                                   " WHERE room_id = ? AND version <= ?"
                                   " ORDER BY version DESC LIMIT 1", room_id, upto)
            else:  # the updates before `oldest` are gone: no keyframe older than it helps
                rows = await fetch("SELECT version, text, made_at FROM keyframes"
                                   " WHERE room_id = ? AND version >= ?"
                                   " ORDER BY version LIMIT 1", room_id, oldest)
            if not rows:
                return Stretch(record, None, [], oldest)
            keyframe = Keyframe(int(rows[0][0]), str(rows[0][1]), rows[0][2])
            rows = await fetch("SELECT version, client_id, changes, author, made_at, inserted,"
                               " deleted FROM updates WHERE room_id = ? AND version > ?"
                               " AND version <= ? ORDER BY version", room_id, keyframe.version,
                               upto)
        updates = [StoredUpdate(int(v), str(c), json.loads(ch), a, t, int(i), int(d))
                   for v, c, ch, a, t, i, d in rows]
        return Stretch(record, keyframe, updates, oldest)

    async def get_link(self, link_id: str) -> LinkRecord | None:
        async with self._reader() as fetch:
            rows = await fetch("SELECT id, room_id, role, created_at, revoked_at FROM links"
                               " WHERE id = ?", link_id)
        return LinkRecord(*rows[0]) if rows else None

    async def room_links(self, room_id: str) -> list[LinkRecord]:
        """The room's links that are not revoked, oldest first."""
        async with self._reader() as fetch:
            rows = await fetch("SELECT id, room_id, role, created_at, revoked_at FROM links"
                               " WHERE room_id = ? AND revoked_at IS NULL"
                               " ORDER BY created_at, id", room_id)
        return [LinkRecord(*r) for r in rows]

    async def revoked_links(self, link_ids: Sequence[str]) -> set[str]:
        """Which of `link_ids` are revoked or gone (the multi-process fallback check)."""
        found: set[str] = set()
        ids = list(dict.fromkeys(link_ids))
        async with self._reader() as fetch:
            for start in range(0, len(ids), LINKS_PER_QUERY):
                chunk = ids[start:start + LINKS_PER_QUERY]
                # Padded to a fixed size: one statement text, prepared once.
                padded = chunk + [chunk[0]] * (LINKS_PER_QUERY - len(chunk))
                rows = await fetch(_VALID_LINKS, *padded)
                valid = {str(r[0]) for r in rows}
                found.update(i for i in chunk if i not in valid)
        return found


async def _kept_from(fetch: Fetch, room_id: str, version: int) -> tuple[int, int]:
    """(`since`, `oldest`): every update after `since` is kept (the updates before are
    pruned), and every version from `oldest`, the first keyframe at or after `since`, can be
    read. They are equal but in rooms stored before the history existed (their older
    keyframes were not kept)."""
    rows = await fetch("SELECT MIN(version) FROM updates WHERE room_id = ?", room_id)
    since = version if not rows or rows[0][0] is None else int(rows[0][0]) - 1
    rows = await fetch("SELECT MIN(version) FROM keyframes WHERE room_id = ? AND version >= ?",
                       room_id, since)
    return since, since if not rows or rows[0][0] is None else int(rows[0][0])


async def _room(fetch: Fetch, room_id: str) -> RoomRecord | None:
    rows = await fetch("SELECT id, name, language, version, code_length, created_at, updated_at"
                       " FROM rooms WHERE id = ?", room_id)
    return RoomRecord(*rows[0]) if rows else None


def grouped(batch: list[Pending]) -> dict[str, list[Sequence[Any]]]:
    """Every write of the same statement together (one executemany each), statements in the
    order they first appear. Safe because a batch never holds a statement that must run
    between two writes of another: inserted updates are newer than any prune in the batch,
    the room row takes its last values, and a deleted room gets no later writes (the hub
    forgets it first)."""
    statements: dict[str, list[Sequence[Any]]] = {}
    for pending in batch:
        for write in pending.writes:
            statements.setdefault(write.sql, []).append(write.params)
    return statements


def _transaction(db: sqlite3.Connection,
                 statements: list[tuple[str, list[Sequence[Any]]]]) -> None:
    """One group commit, on the SQLite thread: every statement's writes, then COMMIT."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for sql, params in statements:
            db.executemany(sql, params)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


INLINE_SLOW_S = 0.010  # an event-loop commit slower than this ...
THREADED_S = 30.0  # ... sends the commits to aiosqlite's thread for this long
CHECKPOINT_COMMITS = 256  # event-loop commits between two checkpoints (on aiosqlite's thread)


def _open_writer(path: str) -> sqlite3.Connection:
    """The connection of the event loop's commits: it never waits for a lock (a busy database
    sends the commit to the thread instead) and never checkpoints (`Store._after_commit` does,
    on the thread)."""
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        writer.execute("PRAGMA synchronous=NORMAL")
        writer.execute("PRAGMA busy_timeout=0")
        writer.execute("PRAGMA wal_autocheckpoint=0")
    except BaseException:
        writer.close()
        raise
    return writer


class Store(SqlStore):
    """The SQLite store. Open with `await Store.open(path)`; close with `await close()`.

    `writer` is None for an in-memory database (a second connection would be a second
    database): every commit then runs on aiosqlite's thread."""

    def __init__(self, conn: aiosqlite.Connection, writer: sqlite3.Connection | None,
                 keyframe_interval: int, history: int) -> None:
        super().__init__(keyframe_interval, history)
        self._conn = conn
        self._writer_db = writer
        self._threaded_until = 0.0  # time.monotonic() before which commits use the thread
        self._since_checkpoint = 0
        self.threaded_commits = 0

    @classmethod
    async def open(cls, path: str, *, keyframe_interval: int = 200, history: int = 10_000) -> Store:
        conn = await aiosqlite.connect(path, isolation_level=None)
        writer = None
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA busy_timeout=5000")
            await _migrate(conn)
            if path != ":memory:":
                writer = await asyncio.to_thread(_open_writer, path)
        except BaseException:
            await conn.close()
            raise
        return cls(conn, writer, keyframe_interval, history)

    async def close(self) -> None:
        """Flush what is queued, then close (aiosqlite's connection last: closing the last
        connection checkpoints the WAL, on its thread)."""
        await self._stop_writer()
        if self._writer_db is not None:
            await asyncio.to_thread(self._writer_db.close)
        await self._conn.close()

    async def _commit(self, batch: list[Pending]) -> dict[Pending, Exception]:
        statements = list(grouped(batch).items())
        writer = self._writer_db
        if writer is not None and time.monotonic() >= self._threaded_until:
            started = time.perf_counter()
            try:
                _transaction(writer, statements)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
                # Another connection (an operator's shell, say) holds the write lock: wait
                # for it on the thread, not here.
            else:
                took = time.perf_counter() - started
                if took > INLINE_SLOW_S:
                    self._threaded_until = time.monotonic() + THREADED_S
                    log.warning("event=store.slow_commit ms=%.1f threaded_s=%.0f",
                                took * 1000, THREADED_S)
                self._since_checkpoint += 1
                return {}
        # The whole transaction is one call on aiosqlite's thread, the way its own helpers
        # (`execute_fetchall`, `execute_insert`) run theirs through `_execute`: one hand-off
        # and one wake-up of the event loop per group commit instead of one per statement.
        self.threaded_commits += 1
        await self._conn._execute(  # type: ignore[no-untyped-call]
            _transaction, self._conn._conn, statements)
        return {}

    async def _after_commit(self) -> None:
        """Checkpoint the WAL every `CHECKPOINT_COMMITS` event-loop commits, on aiosqlite's
        thread. The writer task waits for it, so no commit runs meanwhile: the checkpoint
        copies the whole WAL and the next commit starts it over from the beginning, which
        a checkpoint racing a stream of commits would never allow."""
        if self._since_checkpoint >= CHECKPOINT_COMMITS:
            self._since_checkpoint = 0
            await self._conn.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")

    @contextlib.asynccontextmanager
    async def _reader(self) -> AsyncIterator[Fetch]:
        yield self._fetch

    async def _fetch(self, sql: str, *params: Any) -> Sequence[Sequence[Any]]:
        async with self._conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())


async def _migrate(conn: aiosqlite.Connection) -> None:
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    current = int(row[0]) if row else 0
    if current > len(MIGRATIONS):
        raise RuntimeError(f"database schema {current} is newer than this server knows")
    for target in range(current, len(MIGRATIONS)):
        await conn.executescript(
            f"BEGIN; {MIGRATIONS[target]} PRAGMA user_version = {target + 1}; COMMIT;"
        )
        log.info("event=store.migrated user_version=%d", target + 1)
