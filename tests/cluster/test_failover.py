"""A deployment losing a part while people type (docs/deploy.md "When a part fails"): SIGKILL
of the process that owns a room, SIGKILL of Redis (restarted empty). Clients reconnect to
random processes and resume; nothing confirmed is lost or applied twice; a dead process's
participants leave and its run lock is released within seconds."""

from __future__ import annotations

import asyncio
import json
import random
import re
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import websockets
from websockets.exceptions import ConnectionClosed

from editor_core.close_codes import CloseCode
from tests.live.sim import Crowd, LogView, SimEditor, create_room, get_room, pull_log, replay
from tests.support.cluster_process import launch_member
from tests.support.live_server import LiveServer
from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import RedisServer
from tests.support.ws_frames import next_of

DEADLINE_S = 90.0
INITIAL = "class Box:\n    size = 1  # é 😀\n"


def start(tmp_path: Path, postgres: PostgresServer, redis: RedisServer,
          count: int = 3) -> list[LiveServer]:
    return [launch_member(postgres.url, redis.url, tmp_path / f"m{i}.log",
                          env={"PAIRPAD_RUN_TIMEOUT_SECONDS": "60"}) for i in range(count)]


def process_id(member: LiveServer) -> str:
    found = re.search(r"event=cluster\.joined process=(\w+)", member.log_text())
    assert found is not None, "the member never joined the cluster"
    return found.group(1)


async def owner_of(redis: RedisServer, members: list[LiveServer], room_id: str) -> LiveServer:
    client = aioredis.Redis.from_url(redis.url)
    try:
        owner = await client.get(f"pp:owner:{room_id}")
    finally:
        await client.aclose()
    assert isinstance(owner, bytes), "nobody owns the room"
    [member] = [m for m in members if process_id(m) == owner.decode()]
    return member


async def pull_when_served(member: LiveServer, room_id: str,
                           ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`pull_log`, once the dead owner's lease expired (until then: 1012, reconnect)."""
    while True:
        try:
            return await pull_log(member.ws_url, room_id)
        except ConnectionClosed as exc:
            if exc.rcvd is None or exc.rcvd.code != CloseCode.SERVICE_RESTART:
                raise


def print_logs(members: list[LiveServer]) -> None:
    """The end of each member's log, for a failing test's report."""
    for member in members:
        print(f"--- {member.url}\n{member.log_text()[-4000:]}")


def stop_all(members: list[LiveServer]) -> None:
    for member in members:
        member.stop(signal.SIGKILL if member.proc.poll() is None else signal.SIGTERM)


async def type_through(members: list[LiveServer], room_id: str, seed: int,
                       disaster: Any) -> tuple[Crowd, dict[str, Any], list[dict[str, Any]]]:
    """Six editors type 25 edits each through random processes; `disaster()` runs once some
    of it is confirmed. Returns the crowd, the room as a live process sees it, and its log."""
    rng = random.Random(seed)
    crowd = Crowd(LogView())
    for i in range(6):
        SimEditor(crowd, [m.ws_url for m in members], room_id, f"f{seed}-e{i}",
                  rng.randrange(2**32), edits=25, think_s=0.05)
    async with asyncio.timeout(DEADLINE_S):
        async with asyncio.TaskGroup() as group:
            for editor in crowd.editors:
                group.create_task(editor.run())
            await crowd.log.reached(40)
            await disaster()
        alive = [m for m in members if m.proc.poll() is None]
        state = await get_room(alive[0].url, room_id)
        _, log = await pull_log(alive[-1].ws_url, room_id)
    return crowd, state, log


def check(crowd: Crowd, state: dict[str, Any], log: list[dict[str, Any]]) -> None:
    made = {e.client_id: e.made for e in crowd.editors}
    assert state["version"] == crowd.target == sum(made.values()), "updates lost or doubled"
    for editor in crowd.editors:
        assert editor.model is not None
        assert (editor.model.doc, editor.model.version) == (state["code"], state["version"])
    assert Counter(u["clientId"] for u in log) == made, "an editor's changes lost or doubled"
    assert replay(INITIAL, log) == state["code"]


async def test_the_owner_dies_while_people_type(tmp_path: Path, postgres: PostgresServer,
                                               redis: RedisServer) -> None:
    members = start(tmp_path, postgres, redis)
    try:
        room_id = (await create_room(members[0].url, INITIAL))["roomId"]

        async def kill_owner() -> None:
            owner = await owner_of(redis, members, room_id)
            owner.stop(signal.SIGKILL)

        crowd, state, log = await type_through(members, room_id, 31, kill_owner)
        check(crowd, state, log)
        assert sum(1 for m in members if m.proc.poll() is None) == 2
    except BaseException:
        print_logs(members)
        raise
    finally:
        stop_all(members)


async def test_every_process_dies_and_nothing_confirmed_is_lost(
        tmp_path: Path, postgres: PostgresServer, redis: RedisServer) -> None:
    """SIGKILL of all of them: every update any editor was sent is in PostgreSQL, at the
    version it was sent as, and typing goes on with new processes on the same ports."""
    members = start(tmp_path, postgres, redis)
    ports = [m.port for m in members]
    rng = random.Random(33)
    try:
        room_id = (await create_room(members[0].url, INITIAL))["roomId"]
        up = asyncio.Event()
        up.set()
        restarted = asyncio.Event()
        crowd = Crowd(LogView())
        for i in range(4):
            SimEditor(crowd, [m.ws_url for m in members], room_id, f"k-e{i}",
                      rng.randrange(2**32), edits=30, think_s=0.03, reachable=up.wait,
                      hold=(21, restarted))
        async with asyncio.timeout(DEADLINE_S):
            async with asyncio.TaskGroup() as group:
                for editor in crowd.editors:
                    group.create_task(editor.run())
                await crowd.log.reached(40)
                up.clear()  # editors wait for the new processes instead of retrying
                for member in members:
                    member.stop(signal.SIGKILL)
                members += [launch_member(postgres.url, redis.url, tmp_path / f"n{i}.log",
                                          port=port) for i, port in enumerate(ports)]
                init, restored = await pull_when_served(members[-1], room_id)
                assert init["version"] >= crowd.log.top
                for version, (client_id, changes) in sorted(crowd.log.updates.items()):
                    got = restored[version - 1]
                    assert (got["clientId"], json.dumps(got["changes"])) == (client_id, changes)
                up.set()
                restarted.set()
            state = await get_room(members[-2].url, room_id)
            _, log = await pull_log(members[-3].ws_url, room_id)
        check(crowd, state, log)
    except BaseException:
        print_logs(members)
        raise
    finally:
        stop_all(members)


async def test_redis_dies_and_comes_back_empty_while_people_type(
        tmp_path: Path, postgres: PostgresServer, redis: RedisServer) -> None:
    members = start(tmp_path, postgres, redis)
    try:
        room_id = (await create_room(members[1].url, INITIAL))["roomId"]

        async def restart_redis() -> None:
            redis.kill()
            await asyncio.sleep(1.0)  # Redis stays down a moment: the outage being tested
            await asyncio.to_thread(redis.restart)

        crowd, state, log = await type_through(members, room_id, 32, restart_redis)
        check(crowd, state, log)
        for member in members:  # every process serves the room again
            assert (await get_room(member.url, room_id))["version"] == state["version"]
    except BaseException:
        print_logs(members)
        raise
    finally:
        stop_all(members)


async def test_a_dead_process_leaves_and_its_run_lock_goes_with_it(
        tmp_path: Path, postgres: PostgresServer, redis: RedisServer) -> None:
    members = start(tmp_path, postgres, redis, count=3)
    a, b, c = members
    try:
        program = "print('started', flush=True)\nwhile True:\n    pass\n"
        room_id = (await create_room(a.url, program))["roomId"]
        async with asyncio.timeout(DEADLINE_S), \
                websockets.connect(f"{a.ws_url}/ws/{room_id}/ann?name=Ann") as ann:
            await next_of(ann, "init")  # ann's process a owns the room
            assert await owner_of(redis, members, room_id) is a
            async with websockets.connect(f"{b.ws_url}/ws/{room_id}/bob?name=Bob") as bob:
                await next_of(bob, "init")
                await next_of(ann, "participant_joined")
                b.stop(signal.SIGKILL)  # bob's process dies: bob leaves within seconds
                left = await next_of(ann, "participant_left")
                assert left["clientId"] == "bob"

            async with websockets.connect(f"{c.ws_url}/ws/{room_id}/cy?name=Cy") as cy:
                await next_of(cy, "init")
                await ann.send(json.dumps({"type": "run"}))
                lock = await next_of(cy, "execution_lock")
                assert lock["clientId"] == "ann"
                a.stop(signal.SIGKILL)  # the owner dies mid-run: cy is told to reconnect
                with pytest.raises(ConnectionClosed) as closed:
                    await next_of(cy, "never")
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == CloseCode.SERVICE_RESTART
        async with asyncio.timeout(DEADLINE_S), \
                websockets.connect(f"{c.ws_url}/ws/{room_id}/cy?name=Cy") as cy:
            init = await next_of(cy, "init")
            assert init["lock"] is None  # released with its process
            assert [p["clientId"] for p in init["participants"]] == ["cy"]
            await cy.send(json.dumps({"type": "run"}))
            lock = await next_of(cy, "execution_lock")
            assert lock["clientId"] == "cy"
            await cy.send(json.dumps({"type": "stop", "runId": lock["runId"]}))
            assert (await next_of(cy, "execution_result"))["status"] == "stopped"
    except BaseException:
        print_logs(members)
        raise
    finally:
        stop_all(members)
