"""PostgreSQL restarts while people type (docs/deploy.md "When a part fails"): nothing is
confirmed that was not committed, and editing resumes by itself once it is back.

These tests kill their own PostgreSQL (the session's `postgres` serves the other tests)."""

from __future__ import annotations

import asyncio
import random
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.errors import StoreUnavailable
from server.pgstore import PostgresStore
from tests.cluster.test_failover import INITIAL, check, print_logs, start, stop_all
from tests.live.sim import Crowd, LogView, SimEditor, create_room, get_room, pull_log
from tests.server.test_store import insert_at_end, record
from tests.support.postgres_server import PostgresServer, postgres_server
from tests.support.redis_server import RedisServer

DEADLINE_S = 90.0
OUTAGE_S = 1.5


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture
def restartable_postgres(own_postgres: PostgresServer) -> PostgresServer:
    """This module's PostgreSQL, running (started again if a failed test left it down)."""
    if not own_postgres.running:
        own_postgres.start()
    return own_postgres


async def test_a_store_commits_again_after_postgres_restarts(
        restartable_postgres: PostgresServer) -> None:
    pg = restartable_postgres
    store = await PostgresStore.open(pg.new_database())
    try:
        await store.create_room(record("r"), "")
        await store.append("r", [insert_at_end(1)], "x", 1, "2026-01-02T00:00:00.000Z")

        pg.kill()
        async with asyncio.timeout(10):  # until the store has noticed: a read fails
            while True:
                try:
                    await store.get_room("r")
                except StoreUnavailable:
                    break
        with pytest.raises(StoreUnavailable):  # nothing confirmed while it is down
            await store.append("r", [insert_at_end(2)], "xx", 2, "2026-01-03T00:00:00.000Z")

        await asyncio.to_thread(pg.start)
        # The same update again, as a client resends what was not confirmed: the writer
        # connects afresh and commits it; reads recover through the pool.
        await store.append("r", [insert_at_end(2)], "xx", 2, "2026-01-03T00:00:00.000Z")
        loaded = await store.load_room("r")
        assert loaded is not None
        assert loaded.record.version == 2
        assert [u.version for u in loaded.updates] == [1, 2]
    finally:
        await store.close()


async def test_postgres_restarts_while_people_type(
        tmp_path: Path, restartable_postgres: PostgresServer, redis: RedisServer) -> None:
    pg = restartable_postgres
    members = start(tmp_path, pg, redis, count=2)
    try:
        room_id = (await create_room(members[0].url, INITIAL))["roomId"]
        rng = random.Random(33)
        crowd = Crowd(LogView())
        for i in range(6):
            SimEditor(crowd, [m.ws_url for m in members], room_id, f"pg-e{i}",
                      rng.randrange(2**32), edits=25, think_s=0.1)
        async with asyncio.timeout(DEADLINE_S):
            async with asyncio.TaskGroup() as group:
                for editor in crowd.editors:
                    group.create_task(editor.run())
                await crowd.log.reached(40)
                confirmed = crowd.log.top
                killed = time.monotonic()
                pg.kill()
                await asyncio.sleep(OUTAGE_S)  # PostgreSQL stays down: the outage being tested
                with pytest.raises(urllib.error.HTTPError) as refused:  # an error, not a hang
                    await create_room(members[1].url, "x")
                assert refused.value.code == 503
                assert refused.value.headers["Retry-After"] == "1"
                refused.value.close()
                during = crowd.log.top
                await asyncio.to_thread(pg.start)
                back = time.monotonic()
                await crowd.log.reached(during + 1)
                resumed = time.monotonic()
            state = await get_room(members[0].url, room_id)
            _, log = await pull_log(members[1].ws_url, room_id)
        check(crowd, state, log)
        assert all(m.proc.poll() is None for m in members)
        print(f"confirmed before the kill: {confirmed}, by the restart: {during}; down"
              f" {back - killed:.2f} s; first edit confirmed {resumed - back:.2f} s after the"
              f" restart ({resumed - killed:.2f} s after the kill);"
              f" reconnects: {sum(e.sessions - 1 for e in crowd.editors)}")
    except BaseException:
        print_logs(members)
        raise
    finally:
        stop_all(members)
