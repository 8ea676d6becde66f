"""One room served by three Pairpad processes on a real PostgreSQL and a real Redis
(docs/deploy.md): clients on different processes are one room. Convergence with random
reconnects to random processes; presence, the run lock, runs and admin across processes."""

from __future__ import annotations

import asyncio
import json
import random
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from editor_core.close_codes import CloseCode
from tests.live.sim import Crowd, LogView, SimEditor, create_room, get_room, pull_log, replay
from tests.support.cluster_process import ADMIN_TOKEN, launch_member
from tests.support.live_server import LiveServer
from tests.support.nginx import nginx
from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import RedisServer
from tests.support.ws_frames import next_of

DEADLINE_S = 60.0
PROGRAM = "print('started', flush=True)\nwhile True:\n    pass\n"


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer,
            redis_session: RedisServer) -> Iterator[list[LiveServer]]:
    """Three processes of one deployment, for the tests that kill nothing."""
    if not redis_session.running:  # an earlier test killed it
        redis_session.restart()
    folder = tmp_path_factory.mktemp("cluster")
    started = [launch_member(postgres.url, redis_session.url, folder / f"m{i}.log",
                             env={"PAIRPAD_RUN_TIMEOUT_SECONDS": "30"}) for i in range(3)]
    yield started
    for member in started:
        member.stop()


def logs(members: list[LiveServer]) -> str:
    return "\n".join(f"--- {m.url}\n{m.log_text()[-3000:]}" for m in members)


def admin(method: str, url: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, method=method,
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
        return response.status, json.loads(body) if body else None


@pytest.mark.parametrize("seed", [21, 22])
async def test_editors_on_different_processes_converge(members: list[LiveServer],
                                                       seed: int) -> None:
    rng = random.Random(seed)
    initial = "def f(x):\n    return x  # é 😀\n"
    room_id = (await create_room(members[rng.randrange(3)].url, initial))["roomId"]
    crowd = Crowd(LogView())
    for i in range(6):
        drops = frozenset(rng.sample(range(1, 20), k=2))
        SimEditor(crowd, [m.ws_url for m in members], room_id, f"s{seed}-e{i}",
                  rng.randrange(2**32), edits=20, drop_after=drops)
    try:
        async with asyncio.timeout(DEADLINE_S):
            async with asyncio.TaskGroup() as group:
                for editor in crowd.editors:
                    group.create_task(editor.run())
            states = [await get_room(m.url, room_id) for m in members]
            _, log = await pull_log(members[rng.randrange(3)].ws_url, room_id)
    except BaseException:
        print(logs(members))
        raise
    made = {e.client_id: e.made for e in crowd.editors}
    assert crowd.target == sum(made.values())
    # Every process answers with the same code and version (one room, one history).
    assert {(s["code"], s["version"]) for s in states} == {(states[0]["code"], crowd.target)}
    for editor in crowd.editors:
        assert editor.model is not None
        assert (editor.model.doc, editor.model.version) == (states[0]["code"], crowd.target)
    assert Counter(u["clientId"] for u in log) == made, "an editor's changes lost or doubled"
    assert replay(initial, log) == states[0]["code"]


async def test_presence_runs_and_the_lock_span_processes(members: list[LiveServer]) -> None:
    a, b, c = members
    room_id = (await create_room(a.url, PROGRAM))["roomId"]
    async with asyncio.timeout(DEADLINE_S), \
            websockets.connect(f"{a.ws_url}/ws/{room_id}/ann?name=Ann") as ann, \
            websockets.connect(f"{b.ws_url}/ws/{room_id}/bob?name=Bob") as bob:
        ann_init = await next_of(ann, "init")
        await next_of(bob, "init")
        # Ann learns of Bob from her init, or from participant_joined if she joined first
        # (both joins may wait on the same load of the room on its owner).
        if "bob" not in {p["clientId"] for p in ann_init["participants"]}:
            joined = await next_of(ann, "participant_joined")
            assert joined["participant"]["clientId"] == "bob"
        state = await get_room(c.url, room_id)  # a third process, with no client in the room
        assert sorted(p["clientId"] for p in state["participants"]) == ["ann", "bob"]

        await ann.send(json.dumps({"type": "cursor", "version": 0, "anchor": 3, "head": 5}))
        cursor = await next_of(bob, "cursor")
        assert (cursor["clientId"], cursor["anchor"], cursor["head"]) == ("ann", 3, 5)

        await ann.send(json.dumps({"type": "run"}))
        lock = await next_of(bob, "execution_lock")
        assert (lock["clientId"], lock["name"]) == ("ann", "Ann")
        output = await next_of(bob, "execution_output")
        assert output["data"] == "started\n"
        await bob.send(json.dumps({"type": "run"}))
        refused = await next_of(bob, "error")
        assert refused["code"] == "room_locked"
        await bob.send(json.dumps({"type": "stop", "runId": lock["runId"]}))
        for ws in (ann, bob):
            result = await next_of(ws, "execution_result")
            assert (result["runId"], result["status"]) == (lock["runId"], "stopped")

        # A bad message through a relay is answered like any other.
        await bob.send(json.dumps({"type": "pull", "version": 99}))
        error = await next_of(bob, "error")
        assert error["code"] == "invalid_version"

        await bob.close()
        left = await next_of(ann, "participant_left")
        assert left["clientId"] == "bob"


async def test_diagnostics_and_language_requests_span_processes(
        members: list[LiveServer]) -> None:
    a, b, _ = members
    room_id = (await create_room(a.url, "import os\nprint(nope)\n"))["roomId"]
    async with asyncio.timeout(DEADLINE_S), \
            websockets.connect(f"{a.ws_url}/ws/{room_id}/ann?name=Ann") as ann, \
            websockets.connect(f"{b.ws_url}/ws/{room_id}/bob?name=Bob") as bob:
        # The owner analyses the room once; both connections, one of them relayed, get it.
        seen = [await next_of(ws, "diagnostics") for ws in (ann, bob)]
        assert seen[0] == seen[1]
        assert [(i["from"], i["to"], i["severity"]) for i in seen[0]["items"]] == [
            (7, 9, "warning"), (16, 20, "error")]
        await bob.send(json.dumps({"type": "hover", "id": "h1", "version": 0, "position": 17}))
        hover = await next_of(bob, "hover_info")
        assert (hover["id"], hover["version"]) == ("h1", 0)
        await bob.send(json.dumps({"type": "definition", "id": "d1", "version": 0}))
        error = await next_of(bob, "error")
        assert (error["code"], error["id"]) == ("invalid_message", "d1")


async def test_admin_through_any_process_and_delete_closes_everywhere(
        members: list[LiveServer]) -> None:
    a, b, c = members
    room_id = (await create_room(a.url, "x = 1\n"))["roomId"]
    assert (await get_room(b.url, room_id))["code"] == "x = 1\n"  # readable at once elsewhere
    async with asyncio.timeout(DEADLINE_S), \
            websockets.connect(f"{a.ws_url}/ws/{room_id}/ann?name=Ann") as ann, \
            websockets.connect(f"{b.ws_url}/ws/{room_id}/bob?name=Bob") as bob:
        await next_of(ann, "init")
        await next_of(bob, "init")
        status, detail = await asyncio.to_thread(admin, "GET", f"{c.url}/admin/rooms/{room_id}")
        assert status == 200
        assert sorted(conn["clientId"] for conn in detail["connections"]) == ["ann", "bob"]
        assert detail["participantCount"] == 2
        async with asyncio.timeout(10):  # owners publish their rooms' summaries every second
            while True:
                status, listing = await asyncio.to_thread(admin, "GET", f"{b.url}/admin/rooms")
                [listed] = [r for r in listing["rooms"] if r["roomId"] == room_id]
                if listed["participantCount"] == 2:
                    break
                await asyncio.sleep(0.2)  # polling interval of a deadline wait
        status, _ = await asyncio.to_thread(admin, "DELETE", f"{c.url}/admin/rooms/{room_id}")
        assert status == 204
        for ws in (ann, bob):
            with pytest.raises(ConnectionClosed) as closed:
                await next_of(ws, "never")
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == CloseCode.DELETED
    for member in members:
        with pytest.raises(urllib.error.HTTPError) as missing:
            await get_room(member.url, room_id)
        assert missing.value.code == 404
        missing.value.close()


def test_a_full_room_counts_every_process(tmp_path: Path, postgres: PostgresServer,
                                          redis_session: RedisServer) -> None:
    env = {"PAIRPAD_MAX_PARTICIPANTS": "2"}
    a = launch_member(postgres.url, redis_session.url, tmp_path / "a.log", env=env)
    b = launch_member(postgres.url, redis_session.url, tmp_path / "b.log", env=env)
    try:
        async def scenario() -> int | None:
            room_id = (await create_room(a.url, ""))["roomId"]
            async with asyncio.timeout(DEADLINE_S), \
                    websockets.connect(f"{a.ws_url}/ws/{room_id}/p1?name=P1") as p1, \
                    websockets.connect(f"{b.ws_url}/ws/{room_id}/p2?name=P2") as p2:
                await next_of(p1, "init")
                await next_of(p2, "init")
                async with websockets.connect(f"{b.ws_url}/ws/{room_id}/p3?name=P3") as p3:
                    with pytest.raises(ConnectionClosed) as closed:
                        await p3.recv()
                    return closed.value.rcvd.code if closed.value.rcvd else None

        assert asyncio.run(scenario()) == CloseCode.FULL
    finally:
        a.stop()
        b.stop()


async def test_room_balancing_puts_a_rooms_clients_on_its_owner(
        members: list[LiveServer]) -> None:
    """nginx with `balance="room"` (docs/deploy.md "Capacity"): every client of a room reaches
    the same process, so nothing is relayed; different rooms still spread."""
    with nginx([m.port for m in members], balance="room") as proxy:
        rooms = [(await create_room(proxy.url, f"# {i}\n"))["roomId"] for i in range(10)]
        served: dict[str, set[str]] = {}
        async with asyncio.timeout(DEADLINE_S):
            for room_id in rooms:
                for client in ("a", "b"):
                    url = f"{proxy.ws_url}/ws/{room_id}/{client}?name={client}"
                    async with websockets.connect(url) as ws:
                        await next_of(ws, "init")
                    state = await get_room(proxy.url, room_id)
                    assert state["roomId"] == room_id
                served[room_id] = {m.url for m in members for client in ("a", "b")
                                   if f"room={room_id} client={client} " in m.log_text()}
    assert all(len(urls) == 1 for urls in served.values()), served
    assert len(set().union(*served.values())) > 1, "every room hashed to one process"
