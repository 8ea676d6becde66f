"""The SQLite store's commits on the event loop (docs/storage.md "Commits on the event loop"):
they land without aiosqlite's thread, the WAL is checkpointed on the thread, and a slow or
locked database sends the commits to the thread instead of stalling the loop."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server import store as store_module
from server.store import Store
from tests.server.test_store import insert_at_end, record


async def append(store: Store, version: int) -> None:
    await store.append("r", [insert_at_end(version)], "x" * version, version,
                       "2026-01-02T00:00:00.000Z")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(str(tmp_path / "s.db"), keyframe_interval=1000)
    await opened.create_room(record("r"), "")
    yield opened
    await opened.close()


async def test_commits_run_on_the_event_loop_and_are_read_back(store: Store) -> None:
    before = store.threaded_commits
    for version in range(1, 6):
        await append(store, version)
    assert store.threaded_commits == before  # not one hop to the thread
    loaded = await store.load_room("r")
    assert loaded is not None
    assert [u.version for u in loaded.updates] == [1, 2, 3, 4, 5]


async def test_the_wal_is_checkpointed_so_it_stops_growing(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    async def wal_bytes_after(commits: int, every: int, name: str) -> int:
        monkeypatch.setattr(store_module, "CHECKPOINT_COMMITS", every)
        path = tmp_path / name
        store = await Store.open(str(path), keyframe_interval=1000)
        try:
            await store.create_room(record("r"), "")
            for version in range(1, commits + 1):
                await append(store, version)
            return await asyncio.to_thread(os.path.getsize, f"{path}-wal")
        finally:
            await store.close()

    never = await wal_bytes_after(60, 10**9, "never.db")
    often = await wal_bytes_after(60, 4, "often.db")
    # Each commit adds pages to the WAL until a checkpoint lets the next one start over.
    assert often * 4 < never


async def test_a_slow_commit_sends_the_next_ones_to_the_thread(
        store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(store_module, "INLINE_SLOW_S", 0.0)  # every commit counts as slow
    with caplog.at_level(logging.WARNING, logger="pairpad.store"):
        await append(store, 1)
    assert store.threaded_commits == 0
    assert "event=store.slow_commit" in caplog.text
    await append(store, 2)
    await append(store, 3)
    assert store.threaded_commits == 2
    loaded = await store.load_room("r")
    assert loaded is not None
    assert [u.version for u in loaded.updates] == [1, 2, 3]


async def test_a_locked_database_is_waited_for_on_the_thread_not_on_the_loop(
        store: Store, tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        commit = asyncio.ensure_future(append(store, 1))
        for _ in range(100):  # the writer task's turn: it tries, then hands over
            if store.threaded_commits:
                break
            await asyncio.sleep(0)
        assert store.threaded_commits == 1
        for _ in range(10):  # the loop goes on turning while the thread waits for the lock
            await asyncio.sleep(0)
        assert not commit.done()
        other.execute("COMMIT")
        await commit
    finally:
        other.close()
    loaded = await store.load_room("r")
    assert loaded is not None
    assert [u.version for u in loaded.updates] == [1]


async def test_an_in_memory_database_commits_on_the_thread() -> None:
    store = await Store.open(":memory:")
    try:
        await store.create_room(record("r"), "")
        await append(store, 1)
        assert store.threaded_commits == 2
        loaded = await store.load_room("r")
        assert loaded is not None
        assert [u.version for u in loaded.updates] == [1]
    finally:
        await store.close()
