"""The SQLite store alone: group commit, keyframes and pruning, migrations."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosqlite
import pytest

from server.store import MIGRATIONS, RoomRecord, Store, StoredUpdate


def record(room_id: str) -> RoomRecord:
    return RoomRecord(room_id, "r", "python", 0, 0, "2026-01-01T00:00:00.000Z",
                      "2026-01-01T00:00:00.000Z")


def insert_at_end(version: int) -> StoredUpdate:
    # version - 1 characters before it, append one "x"
    return StoredUpdate(version, "c", [version - 1, [0, "x"]] if version > 1 else [[0, "x"]])


async def test_writes_queued_together_commit_as_one_transaction(tmp_path: Path) -> None:
    store = await Store.open(str(tmp_path / "s.db"), keyframe_interval=1000)
    try:
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
    finally:
        await store.close()


async def test_keyframes_bound_the_replay_and_prune_old_updates(tmp_path: Path) -> None:
    store = await Store.open(str(tmp_path / "k.db"), keyframe_interval=4, history=3)
    try:
        await store.create_room(record("r"), "")
        for version in range(1, 11):
            await store.append("r", [insert_at_end(version)], "x" * version, version,
                               "2026-01-02T00:00:00.000Z")
        loaded = await store.load_room("r")
        assert loaded is not None
        assert (loaded.keyframe_version, loaded.keyframe_text) == (8, "x" * 8)
        # replay after the keyframe (9, 10); the last `history` updates for rebasing (8..10)
        assert [u.version for u in loaded.updates] == [8, 9, 10]
    finally:
        await store.close()


async def test_schema_is_versioned_and_newer_schemas_are_refused(tmp_path: Path) -> None:
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
