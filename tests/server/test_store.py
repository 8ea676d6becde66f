"""The stores alone, each test on SQLite and on PostgreSQL unless it says otherwise: group
commit, keyframes and pruning, runs and queries, migrations, fencing of room ownership."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import pytest

from server.pgstore import PG_MIGRATIONS, PostgresStore
from server.store import (
    LINKS_PER_QUERY,
    MIGRATIONS,
    RUNS_KEPT,
    Fenced,
    LinkRecord,
    RoomRecord,
    SqlStore,
    Store,
    StoredUpdate,
)
from tests.support.postgres_server import PostgresServer

StoreFactory = Callable[..., Awaitable[SqlStore]]


def record(room_id: str, updated_at: str = "2026-01-01T00:00:00.000Z") -> RoomRecord:
    return RoomRecord(room_id, "r", "python", 0, 0, "2026-01-01T00:00:00.000Z", updated_at)


def insert_at_end(version: int) -> StoredUpdate:
    # version - 1 characters before it, append one "x"
    return StoredUpdate(version, "c", [version - 1, [0, "x"]] if version > 1 else [[0, "x"]])


@pytest.fixture(params=["sqlite", "postgres"])
async def make_store(request: pytest.FixtureRequest, tmp_path: Path
                     ) -> AsyncIterator[StoreFactory]:
    """`await make_store(**options)` → a store on this test's database (a fresh one per test;
    a second call opens a second store on the same database); all closed at the end."""
    opener: Callable[..., Awaitable[SqlStore]]
    if request.param == "sqlite":
        db, opener = str(tmp_path / "s.db"), Store.open
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        db, opener = server.new_database(), PostgresStore.open
    opened: list[SqlStore] = []

    async def make(**options: Any) -> SqlStore:
        store = await opener(db, **options)
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()


async def test_writes_queued_together_commit_as_one_transaction(make_store: StoreFactory
                                                                ) -> None:
    store = await make_store(keyframe_interval=1000)
    await asyncio.gather(*(store.create_room(record(f"room{i}"), "") for i in range(3)))
    before = store.commits
    futures = [store.append(f"room{i}", [insert_at_end(1)], "x", 1, "2026-01-02T00:00:00.000Z")
               for i in range(3)]
    futures += [store.append("room0", [insert_at_end(2)], "xx", 2, "2026-01-03T00:00:00.000Z")]
    await asyncio.gather(*futures)
    assert store.commits == before + 1  # group commit: one transaction for all four
    loaded = await store.load_room("room0")
    assert loaded is not None
    assert loaded.record.version == 2
    assert loaded.record.updated_at == "2026-01-03T00:00:00.000Z"
    assert [u.version for u in loaded.updates] == [1, 2]
    assert loaded.updates[1].changes == [1, [0, "x"]]


async def test_then_hears_each_commit_before_the_callbacks_of_its_future(
        make_store: StoreFactory) -> None:
    store = await make_store()
    await store.create_room(record("r"), "")
    heard: list[tuple[str, object]] = []
    in_writer: list[bool] = []

    def then(name: str) -> Callable[[BaseException | None], None]:
        def told(error: BaseException | None) -> None:
            heard.append((name, type(error) if error else None))
            in_writer.append(asyncio.current_task() is not None)  # not a loop callback
        return told

    first = store.append("r", [insert_at_end(1)], "x", 1, "2026-01-02T00:00:00.000Z",
                         then=then("first"))
    first.add_done_callback(lambda _: heard.append(("first's future", None)))
    await first
    assert heard == [("first", None), ("first's future", None)]
    assert in_writer == [True]  # told in the writer's step, a loop turn before the callback
    # The same version again: the commit fails, and `then` hears why.
    again = store.append("r", [StoredUpdate(1, "other", [[0, "y"]])], "y", 1,
                         "2026-01-02T00:00:00.000Z", then=then("again"))
    with pytest.raises((sqlite3.IntegrityError, asyncpg.UniqueViolationError)):
        await again
    assert heard[2][0] == "again"
    assert heard[2][1] in (sqlite3.IntegrityError, asyncpg.UniqueViolationError)
    assert in_writer == [True, True]


async def test_a_then_that_raises_leaves_the_writer_running(make_store: StoreFactory,
                                                            caplog: pytest.LogCaptureFixture
                                                            ) -> None:
    store = await make_store()
    await store.create_room(record("r"), "")

    def broken(error: BaseException | None) -> None:
        raise RuntimeError("the caller's bug")

    await store.append("r", [insert_at_end(1)], "x", 1, "2026-01-02T00:00:00.000Z",
                       then=broken)
    await store.append("r", [insert_at_end(2)], "xx", 2, "2026-01-02T00:00:01.000Z")
    loaded = await store.load_room("r")
    assert loaded is not None
    assert loaded.record.version == 2
    assert "event=store.then_failed" in caplog.text


async def test_keyframes_bound_the_replay_and_prune_old_updates(make_store: StoreFactory
                                                                ) -> None:
    store = await make_store(keyframe_interval=4, history=3)
    await store.create_room(record("r"), "")
    for version in range(1, 11):
        await store.append("r", [insert_at_end(version)], "x" * version, version,
                           "2026-01-02T00:00:00.000Z")
    loaded = await store.load_room("r")
    assert loaded is not None
    assert (loaded.keyframe_version, loaded.keyframe_text) == (8, "x" * 8)
    # replay after the keyframe (9, 10); the last `history` updates for rebasing (8..10)
    assert [u.version for u in loaded.updates] == [8, 9, 10]


async def test_a_version_stored_twice_fails_the_commit_loudly(make_store: StoreFactory) -> None:
    store = await make_store()
    await store.create_room(record("r"), "")
    await store.append("r", [insert_at_end(1)], "x", 1, "2026-01-02T00:00:00.000Z")
    with pytest.raises((sqlite3.IntegrityError, asyncpg.UniqueViolationError)):
        await store.append("r", [StoredUpdate(1, "other", [[0, "y"]])], "y", 1,
                           "2026-01-02T00:00:00.000Z")
    loaded = await store.load_room("r")
    assert loaded is not None
    assert [(u.version, u.client_id) for u in loaded.updates] == [(1, "c")]
    # Rolled back whole: the next commit starts a transaction of its own and lands.
    await store.append("r", [insert_at_end(2)], "xx", 2, "2026-01-02T00:00:01.000Z")
    loaded = await store.load_room("r")
    assert loaded is not None
    assert [(u.version, u.client_id) for u in loaded.updates] == [(1, "c"), (2, "c")]


async def test_runs_keep_the_newest_and_queries_order_by_activity(make_store: StoreFactory
                                                                   ) -> None:
    store = await make_store()
    await store.create_room(record("old", "2026-01-01T00:00:00.000Z"), "")
    await store.create_room(record("new", "2026-03-01T00:00:00.000Z"), "")
    for i in range(RUNS_KEPT + 3):
        await store.save_run("new", f"run{i:02}", f"2026-03-01T00:00:{i:02}.000Z", {"n": i})
    await store.save_run("new", "run00", "2026-03-02T00:00:00.000Z", {"n": 0})  # replaced
    runs = await store.recent_runs("new")
    assert len(runs) == RUNS_KEPT
    assert [r["n"] for r in runs[:2]] == [0, RUNS_KEPT + 2]
    records, total = await store.list_rooms(limit=1, offset=0)
    assert ([r.room_id for r in records], total) == (["new"], 2)
    assert await store.idle_rooms("2026-02-01T00:00:00.000Z") == ["old"]
    await store.delete_room("new")
    assert await store.get_room("new") is None
    assert await store.recent_runs("new") == []
    assert await store.count_rooms() == 1
    assert await store.claim("old") in {0, 1}  # SQLite: one process, nothing to fence


async def test_links_are_kept_revoked_and_deleted_with_their_room(make_store: StoreFactory
                                                                  ) -> None:
    store = await make_store()
    await store.create_room(record("room"), "")
    await store.create_room(record("other"), "")
    links = [LinkRecord(f"l{i:03}", "room", "viewer",
                        f"2026-01-01T{i // 60:02}:{i % 60:02}:00.000Z")
             for i in range(LINKS_PER_QUERY + 5)]  # more than one query's worth
    for link in links:
        await store.create_link(link)
    await store.create_link(LinkRecord("elsewhere", "other", "viewer", "2026-01-01T00:00:00Z"))
    assert await store.get_link("l000") == links[0]
    assert await store.get_link("nope") is None
    await store.revoke_link("l001", "2026-01-02T00:00:00.000Z")
    await store.revoke_link("l001", "2026-01-03T00:00:00.000Z")  # the first time stays
    revoked = await store.get_link("l001")
    assert revoked is not None
    assert revoked.revoked_at == "2026-01-02T00:00:00.000Z"
    listed = await store.room_links("room")
    assert [link.link_id for link in listed] == [link.link_id for link in links
                                                 if link.link_id != "l001"]
    asked = [link.link_id for link in links] + ["gone", "elsewhere"]
    assert await store.revoked_links(asked) == {"l001", "gone"}
    assert await store.revoked_links([]) == set()
    await store.delete_room("room")
    assert await store.get_link("l000") is None
    assert await store.room_links("room") == []
    assert await store.get_link("elsewhere") is not None


async def test_an_older_sqlite_database_gains_the_links_table(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await conn.executescript(f"BEGIN; {MIGRATIONS[0]} PRAGMA user_version = 1; COMMIT;")
    store = await Store.open(path)
    try:
        await store.create_room(record("room"), "")
        await store.create_link(LinkRecord("l", "room", "viewer", "2026-01-01T00:00:00.000Z"))
        assert [link.link_id for link in await store.room_links("room")] == ["l"]
    finally:
        await store.close()


async def test_a_run_stored_before_a_result_field_existed_reads_it_as_null(
        make_store: StoreFactory) -> None:
    store = await make_store()
    await store.create_room(record("r", "2026-01-01T00:00:00.000Z"), "")
    await store.save_run("r", "old", "2026-01-01T00:00:01.000Z", {"status": "stopped"})
    await store.save_run("r", "new", "2026-01-01T00:00:02.000Z",
                         {"status": "stopped", "reason": "stopped", "stoppedBy": "Bob"})
    new, old = await store.recent_runs("r")
    assert old == {"status": "stopped", "reason": None, "limit": None, "startedAt": None,
                   "stoppedBy": None}
    assert (new["reason"], new["stoppedBy"], new["startedAt"]) == ("stopped", "Bob", None)


async def test_sqlite_schema_is_versioned_and_newer_schemas_are_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "m.db")
    store = await Store.open(path)
    await store.close()
    async with aiosqlite.connect(path) as conn:
        async with conn.execute("PRAGMA user_version") as cursor:
            assert await cursor.fetchone() == (len(MIGRATIONS),)
        async with conn.execute("PRAGMA journal_mode") as cursor:
            assert await cursor.fetchone() == ("wal",)
        await conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
        await conn.commit()
    with pytest.raises(RuntimeError, match="newer"):
        await Store.open(path)


async def test_processes_starting_at_once_migrate_once(postgres: PostgresServer) -> None:
    url = postgres.new_database()
    stores = await asyncio.gather(*(PostgresStore.open(url) for _ in range(3)))
    for store in stores:
        await store.close()
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetch("SELECT version FROM schema_version") == [(len(PG_MIGRATIONS),)]
        await conn.execute("UPDATE schema_version SET version = $1", len(PG_MIGRATIONS) + 1)
    finally:
        await conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        await PostgresStore.open(url)


async def test_a_store_that_lost_its_claim_writes_nothing(postgres: PostgresServer) -> None:
    url = postgres.new_database()
    first, second = await PostgresStore.open(url), await PostgresStore.open(url)
    try:
        await first.create_room(record("r"), "")
        await first.create_room(record("other"), "")
        assert await first.claim("r") == 1
        assert await first.claim("other") == 1
        await first.append("r", [insert_at_end(1)], "x", 1, "2026-01-02T00:00:00.000Z")
        assert await second.claim("r") == 2  # the new owner; `first` is paused, say
        # One group commit: the fenced room fails alone, the other room's write commits.
        before = first.commits
        fenced = first.append("r", [insert_at_end(2)], "xx", 2, "2026-01-03T00:00:00.000Z")
        kept = first.append("other", [insert_at_end(1)], "x", 1, "2026-01-03T00:00:00.000Z")
        results = await asyncio.gather(fenced, kept, return_exceptions=True)
        assert isinstance(results[0], Fenced)
        assert results[1] is None
        assert first.commits == before + 1
        await second.append("r", [StoredUpdate(2, "b", [1, [0, "y"]])], "xy", 2,
                            "2026-01-04T00:00:00.000Z")
        loaded = await second.load_room("r")
        assert loaded is not None
        assert (loaded.record.version, loaded.record.updated_at) == (2, "2026-01-04T00:00:00.000Z")
        assert [(u.version, u.client_id) for u in loaded.updates] == [(1, "c"), (2, "b")]
        other = await second.load_room("other")
        assert other is not None
        assert other.record.version == 1
        with pytest.raises(LookupError):
            await second.claim("missing")
    finally:
        await first.close()
        await second.close()


async def test_the_first_secret_digest_stored_is_kept(make_store: StoreFactory) -> None:
    one, other = await make_store(), await make_store()  # two processes, one database
    assert await one.secret_digest("admin_token") is None
    assert await one.keep_secret_digest("admin_token", "a" * 64, "2026-01-01T00:00:00.000Z") \
        == "a" * 64
    assert await other.keep_secret_digest("admin_token", "b" * 64, "2026-01-01T00:00:01.000Z") \
        == "a" * 64
    assert await other.secret_digest("admin_token") == "a" * 64
