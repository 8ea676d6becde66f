"""A room run over real sockets against a real server process with the real sandbox:
lock, streamed output, `room_locked`, stop by another participant, the result for all."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

import pytest
import websockets

from editor_core.close_codes import CloseCode
from tests.support.live_server import live_server
from tests.support.ws_frames import next_of

pytestmark = pytest.mark.live

PROGRAM = "print('started', flush=True)\nwhile True:\n    pass\n"


def test_run_lock_and_stop_over_real_sockets(tmp_path: Path) -> None:
    with live_server(tmp_path, env={"PAIRPAD_RUN_TIMEOUT_SECONDS": "30"}) as server:
        request = urllib.request.Request(server.url + "/rooms", method="POST",
                                         data=json.dumps({"code": PROGRAM}).encode())
        with urllib.request.urlopen(request, timeout=10) as response:
            room_id = json.loads(response.read())["roomId"]
        base = f"{server.ws_url}/ws/{room_id}"

        async def scenario() -> None:
            async with asyncio.timeout(60), websockets.connect(f"{base}/ann?name=Ann") as ann, \
                    websockets.connect(f"{base}/bob?name=Bob") as bob:
                await next_of(ann, "init")
                await next_of(bob, "init")
                await ann.send(json.dumps({"type": "run"}))
                lock = await next_of(bob, "execution_lock")
                assert (lock["clientId"], lock["name"], lock["version"]) == ("ann", "Ann", 0)
                output = await next_of(bob, "execution_output")
                assert (output["stream"], output["data"]) == ("stdout", "started\n")
                await bob.send(json.dumps({"type": "run"}))
                refused = await next_of(bob, "error")
                assert refused["code"] == "room_locked"
                assert refused["lock"]["output"] == "started\n"
                await bob.send(json.dumps({"type": "stop", "runId": lock["runId"]}))
                for ws in (ann, bob):
                    result = await next_of(ws, "execution_result")
                    assert result["runId"] == lock["runId"]
                    assert result["status"] == "stopped"
                    assert result["output"] == "started\n"

        asyncio.run(scenario())
        with urllib.request.urlopen(f"{server.url}/rooms/{room_id}", timeout=10) as response:
            state = json.loads(response.read())
        assert state["lock"] is None
        assert state["lastRun"]["status"] == "stopped"


def test_a_message_over_the_limit_closes_1009(tmp_path: Path) -> None:
    with live_server(tmp_path, env={"PAIRPAD_MAX_MESSAGE_BYTES": "1000"}) as server:
        request = urllib.request.Request(server.url + "/rooms", method="POST", data=b"{}")
        with urllib.request.urlopen(request, timeout=10) as response:
            room_id = json.loads(response.read())["roomId"]

        async def scenario() -> int | None:
            uri = f"{server.ws_url}/ws/{room_id}/big?name=Big"
            async with asyncio.timeout(30), websockets.connect(uri) as ws:
                await ws.recv()
                await ws.send(json.dumps({"type": "code_update", "version": 0,
                                          "updates": [{"changes": [[0, "x" * 2000]]}]}))
                with pytest.raises(websockets.ConnectionClosedError):
                    await ws.recv()
                return ws.close_code

        assert asyncio.run(scenario()) == CloseCode.MESSAGE_TOO_BIG
