"""Read-only links over real sockets against a real server process (docs/protocol.md
"Read-only links"): every route and its errors, every close code a viewer can get, a push from
a viewer that changes nothing, and a revoke while editors type."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from editor_core.changeset import ChangeSet
from editor_core.close_codes import CloseCode
from tests.live.sim import Crowd, LogView, SimEditor, create_room, get_room, pull_log, replay
from tests.support.http_json import http, rest
from tests.support.live_server import LiveServer, live_server
from tests.support.ws_frames import closed_with, next_of

pytestmark = pytest.mark.live

DEADLINE_S = 45.0
Frame = dict[str, Any]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("links")) as running:
        yield running


def page_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        status: int = response.status
        return status


async def test_every_route_and_error_over_http(server: LiveServer) -> None:
    room_id = (await create_room(server.url, "x = 1\n"))["roomId"]
    base = f"{server.url}/rooms/{room_id}/links"
    status, link = await rest("POST", base, {"role": "viewer"})
    assert status == 201
    assert link["url"] == f"/v/{link['linkId']}"
    assert room_id not in json.dumps(link)
    assert await rest("GET", base) == (200, {"links": [link]})
    status, shared = await rest("GET", f"{server.url}/links/{link['linkId']}")
    assert status == 200
    assert "roomId" not in shared
    assert (shared["role"], shared["code"]) == ("viewer", "x = 1\n")
    assert await asyncio.to_thread(page_status, server.url + link["url"]) == 200

    assert (await rest("POST", base, {"role": "owner"}))[1]["error"]["code"] == "validation_error"
    assert (await rest("POST", f"{server.url}/rooms/nope/links", {"role": "viewer"}) ==
            (404, {"error": {"code": "room_not_found", "message": "room 'nope' does not exist"}}))
    assert (await rest("GET", f"{server.url}/rooms/nope/links"))[0] == 404
    status, error = await rest("DELETE", f"{base}/nope")
    assert (status, error["error"]["code"]) == (404, "link_not_found")
    status, error = await rest("GET", f"{server.url}/links/nope")
    assert (status, error["error"]["code"]) == (404, "link_not_found")

    assert await rest("DELETE", f"{base}/{link['linkId']}") == (204, None)
    status, error = await rest("GET", f"{server.url}/links/{link['linkId']}")
    assert (status, error["error"]["code"]) == (403, "link_revoked")
    assert await rest("GET", base) == (200, {"links": []})


async def test_a_viewer_push_run_and_stop_change_nothing(server: LiveServer) -> None:
    room_id = (await create_room(server.url, "print(1)\n"))["roomId"]
    _, link = await rest("POST", f"{server.url}/rooms/{room_id}/links", {"role": "viewer"})
    view = f"{server.ws_url}/ws/view/{link['linkId']}"
    heard: list[str] = []
    async with asyncio.timeout(DEADLINE_S), \
            websockets.connect(f"{server.ws_url}/ws/{room_id}/ann?name=Ann") as ann, \
            websockets.connect(f"{view}/val?name=Val") as val:
        await next_of(ann, "init")
        init = json.loads(await val.recv())
        heard.append(json.dumps(init))
        assert init["type"] == "init"
        assert "roomId" not in init
        assert init["role"] == "viewer"
        assert (await next_of(ann, "participant_joined"))["participant"]["role"] == "viewer"
        for message in ({"type": "code_update", "version": 0,
                         "updates": [{"changes": [[0, "evil"], 9]}]},
                        {"type": "run"}, {"type": "stop", "runId": "x"}):
            await val.send(json.dumps(message))
            refused = json.loads(await val.recv())
            heard.append(json.dumps(refused))
            assert (refused["type"], refused["code"]) == ("error", "read_only")
        await val.send(json.dumps({"type": "ping"}))
        assert json.loads(await val.recv()) == {"type": "pong"}  # the socket stays open
        state = await get_room(server.url, room_id)
        assert (state["code"], state["version"]) == ("print(1)\n", 0)

        await ann.send(json.dumps({"type": "run"}))
        while True:  # the run's frames reach the viewer too
            frame = json.loads(await val.recv())
            heard.append(json.dumps(frame))
            if frame["type"] == "execution_result":
                break
        assert frame["output"] == "1\n"
        assert frame["clientId"] == "ann"

    for path, code in ((f"{server.ws_url}/ws/view/nope/v?name=V", CloseCode.NOT_FOUND),
                       (f"{view}/bad%20id?name=V", CloseCode.BAD_REQUEST),
                       (f"{view}/ann?name=", CloseCode.BAD_REQUEST)):
        async with asyncio.timeout(DEADLINE_S), websockets.connect(path) as refused_ws:
            assert await closed_with(refused_ws) == code
    assert not any(room_id in text for text in heard)


async def test_a_revoke_while_editors_type_closes_the_viewer_at_once(server: LiveServer
                                                                    ) -> None:
    initial = "def f(x):\n    return x\n"
    room_id = (await create_room(server.url, initial))["roomId"]
    _, link = await rest("POST", f"{server.url}/rooms/{room_id}/links", {"role": "viewer"})
    log = LogView()
    crowd = Crowd(log)
    for i in range(3):
        SimEditor(crowd, server.ws_url, room_id, f"typist{i}", 100 + i, edits=40)
    viewer_url = f"{server.ws_url}/ws/view/{link['linkId']}/watcher?name=Watcher"

    async def watch() -> tuple[int | None, str, int]:
        """Follow the room as a viewer, pushing now and then (refused), until closed."""
        async with websockets.connect(viewer_url, max_size=None) as ws:
            init = json.loads(await ws.recv())
            text, version = init["code"], init["version"]
            try:
                while True:
                    frame = json.loads(await ws.recv())
                    if frame["type"] == "code_update" and frame["version"] <= version:
                        for update in frame["updates"][version - frame["version"]:]:
                            text = ChangeSet.from_json(update["changes"]).apply(text)
                            version += 1
                        await ws.send(json.dumps({"type": "code_update", "version": version,
                                                  "updates": [{"changes": [[0, "evil"],
                                                                           len(text)]}]}))
                    elif frame["type"] == "error":
                        assert frame["code"] == "read_only"
            except ConnectionClosed as closed:
                return (closed.rcvd.code if closed.rcvd else None), text, version

    async with asyncio.timeout(DEADLINE_S), asyncio.TaskGroup() as group:
        watcher = group.create_task(watch())
        typing = [group.create_task(editor.run()) for editor in crowd.editors]
        await log.reached(20)  # mid-typing
        assert await rest("DELETE", f"{server.url}/rooms/{room_id}/links/{link['linkId']}") \
            == (204, None)
        code, seen_text, seen_version = await watcher
        assert code == CloseCode.REVOKED
        assert not all(task.done() for task in typing)  # revoked while they still typed
        again = await asyncio.to_thread(
            http, "GET", f"{server.url}/links/{link['linkId']}")
        assert again[1]["error"]["code"] == "link_revoked"
        async with websockets.connect(viewer_url) as late:
            assert await closed_with(late) == CloseCode.REVOKED

    state = await get_room(server.url, room_id)
    _, updates = await pull_log(server.ws_url, room_id)
    assert state["version"] == sum(editor.made for editor in crowd.editors) == 120
    assert "evil" not in state["code"]
    assert {u["clientId"] for u in updates} == {"typist0", "typist1", "typist2"}
    assert replay(initial, updates) == state["code"]
    assert replay(initial, updates[:seen_version]) == seen_text  # the viewer was in sync
