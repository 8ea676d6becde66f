"""History read back from each store (SQLite and PostgreSQL): for random edits appended in
random batches by random authors, under small keyframe intervals and histories, every kept
version equals replaying the log to it, the others are `history_gone`, the last
`history` versions and every keyframe are kept, history entries sum up what they stand for,
and blame gives each line the update that last touched it (docs/storage.md "History")."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import aiosqlite
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from editor_core.changeset import ChangeSet
from editor_core.errors import HistoryGone
from editor_core.history import change_counts, line_versions, replay
from editor_core.positions import utf16_length
from server.errors import VersionNotFound
from server.history import blame_lines, text_at
from server.pgstore import PostgresStore
from server.store import MIGRATIONS, RoomRecord, SqlStore, Store, StoredUpdate
from tests.core.random_changes import Pick, random_change, random_text
from tests.support.postgres_server import PostgresServer

AUTHORS = [("Ann", "a"), ("Bob", "b"), ("Cy", "c")]
CREATED = "2026-01-01T00:00:00.000Z"


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, bool]]:
    """(where, is PostgreSQL): one database for every example of the test."""
    if request.param == "sqlite":
        yield str(tmp_path / "h.db"), False
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        yield server.new_database(), True


rooms = itertools.count()


def time_of(batch: int) -> str:
    return f"2026-01-02T00:00:{batch:02}.000Z"


async def scenario(db: str, postgres: bool, pick: Pick) -> None:
    interval, history = pick(1, 5), pick(0, 8)
    opener = PostgresStore.open if postgres else Store.open
    store: SqlStore = await opener(db, keyframe_interval=interval, history=history)
    try:
        room_id = f"r{next(rooms)}"
        doc = random_text(pick)
        await store.create_room(RoomRecord(room_id, "r", "python", 0, utf16_length(doc),
                                           CREATED, CREATED), doc)
        texts = [doc]
        changes: list[ChangeSet] = []
        authors: list[tuple[str, str]] = []
        times: list[str] = []
        batch = 0
        while len(changes) < pick(0, 16):
            batch += 1
            author, client_id = AUTHORS[pick(0, 2)]
            stored = []
            for _ in range(pick(1, 3)):
                change = random_change(pick, texts[-1])
                changes.append(change)
                texts.append(change.apply(texts[-1]))
                authors.append((author, client_id))
                times.append(time_of(batch))
                stored.append(StoredUpdate(len(changes), client_id, change.to_json(), author,
                                           time_of(batch), *change_counts(change)))
            await store.append(room_id, stored, texts[-1], utf16_length(texts[-1]),
                               time_of(batch))
        await check(store, room_id, texts, changes, authors, times, history)
    finally:
        await store.close()


async def check(store: SqlStore, room_id: str, texts: list[str], changes: list[ChangeSet],
                authors: list[tuple[str, str]], times: list[str], history: int) -> None:
    last = len(changes)
    page = await store.history(room_id, last + 1, 500)
    assert page is not None
    entries, oldest = page
    assert oldest <= max(0, last - history)  # the last `history` updates at full resolution
    kept = {e.version for e in entries} | {0}
    for version, text in enumerate(texts):
        if version >= oldest or version in kept:
            code, time = await text_at(store, room_id, version)
            assert code == text == replay(texts[0], changes[:version])
            assert time == (times[version - 1] if version else CREATED)
        else:
            with pytest.raises(HistoryGone):
                await text_at(store, room_id, version)
    with pytest.raises(VersionNotFound):
        await text_at(store, room_id, last + 1)

    # Newest first: one entry per kept update, then keyframes standing for the updates since
    # the entry below them.
    assert [e.version for e in entries] == sorted(kept - {0}, reverse=True)
    for index, entry in enumerate(entries):
        start = entries[index + 1].version if index + 1 < len(entries) else 0
        assert entry.updates == (1 if entry.version > oldest else entry.version - start)
        counts = [change_counts(c) for c in changes[entry.version - entry.updates:
                                                    entry.version]]
        assert entry.inserted == sum(i for i, _ in counts)
        assert entry.deleted == sum(d for _, d in counts)
        assert (entry.author, entry.client_id) == authors[entry.version - 1]
        assert entry.time == times[entry.version - 1]

    stretch = await store.stretch(room_id, None)
    assert stretch is not None
    assert stretch.keyframe is not None
    base = stretch.keyframe.version
    assert base >= oldest
    expected = [max(v, base) for v in line_versions(
        texts[0], 0, [(i + 1, change) for i, change in enumerate(changes)])]
    lines = blame_lines(stretch)
    assert [line["version"] for line in lines] == expected
    assert [line["line"] for line in lines] == list(range(1, len(expected) + 1))
    for line in lines:
        if line["version"] == base:
            assert line["author"] is None
        else:
            assert (line["author"], line["clientId"]) == authors[line["version"] - 1]


@given(st.data())
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_versions_entries_and_blame_follow_the_log(database: tuple[str, bool],
                                                   data: st.DataObject) -> None:
    db, postgres = database
    asyncio.run(scenario(db, postgres, lambda lo, hi: data.draw(st.integers(lo, hi))))


async def test_rooms_stored_before_the_history_read_without_authors(tmp_path: Path) -> None:
    # Schema 1 kept only the newest keyframe and updates without author or time.
    path = str(tmp_path / "old.db")
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await conn.executescript(f"BEGIN; {MIGRATIONS[0]} PRAGMA user_version = 1; COMMIT;")
        await conn.executescript(
            "INSERT INTO rooms VALUES ('r', 'old', 'python', 3, 3, '2026-01-01T00:00:00.000Z',"
            " '2026-01-01T00:00:00.000Z');"
            "INSERT INTO keyframes VALUES ('r', 2, 'ab');"
            """INSERT INTO updates VALUES ('r', 1, 'c', '[[0,"a"]]'),"""
            """ ('r', 2, 'c', '[1,[0,"b"]]'), ('r', 3, 'c', '[2,[0,"c"]]');""")
    store = await Store.open(path, keyframe_interval=200)
    try:
        page = await store.history("r", 10, 50)
        assert page is not None
        entries, oldest = page
        assert oldest == 2  # the oldest keyframe: version 1 cannot be read
        assert [(e.version, e.author, e.client_id, e.time) for e in entries] == [
            (3, None, "c", None), (2, None, "c", None), (1, None, "c", None)]
        assert await text_at(store, "r", 3) == ("abc", None)
        assert await text_at(store, "r", 2) == ("ab", None)
        with pytest.raises(HistoryGone):  # no keyframe at or below version 1
            await text_at(store, "r", 1)
        stretch = await store.stretch("r", None)
        assert stretch is not None
        assert [(line["author"], line["version"]) for line in blame_lines(stretch)] == [
            (None, 3)]  # replayed from the keyframe at 2; update 3 has no author
    finally:
        await store.close()
