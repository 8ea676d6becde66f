"""Runs that feel like Python, over real sockets against a real server process and the real
sandbox: a unittest file ends `tests_failed` with its report in everyone's output, and a
program that sleeps between prints streams each line as its own `execution_output`."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.support.live_server import live_server

pytestmark = pytest.mark.live

TESTS_PROGRAM = """\
import unittest

def add(a, b):
    return a + b

class TestAdd(unittest.TestCase):
    def test_small(self):
        self.assertEqual(add(1, 2), 3)

    def test_wrong(self):
        self.assertEqual(add(2, 2), 5)

unittest.main()
"""

STREAMING_PROGRAM = """\
import time
for i in range(4):
    print('line', i)
    time.sleep(0.5)
"""


def create_room(url: str, code: str) -> str:
    request = urllib.request.Request(
        url + "/rooms", method="POST", data=json.dumps({"code": code}).encode()
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.loads(response.read())["roomId"])


async def frames_until_result(ws: ClientConnection) -> list[dict[str, Any]]:
    """Every run frame this participant receives, through `execution_result`."""
    frames: list[dict[str, Any]] = []
    while True:
        frame: dict[str, Any] = json.loads(await ws.recv())
        if frame["type"].startswith("execution_"):
            frames.append(frame)
        if frame["type"] == "execution_result":
            return frames


async def run_in_room(base: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    async with asyncio.timeout(60), websockets.connect(f"{base}/ann?name=Ann") as ann, \
            websockets.connect(f"{base}/bob?name=Bob") as bob:  # fmt: skip
        for ws in (ann, bob):
            while json.loads(await ws.recv())["type"] != "init":
                pass
        await ann.send(json.dumps({"type": "run"}))
        return await asyncio.gather(frames_until_result(ann), frames_until_result(bob))


def test_a_unittest_file_ends_tests_failed_with_its_report(tmp_path: Path) -> None:
    with live_server(tmp_path) as server:
        room_id = create_room(server.url, TESTS_PROGRAM)
        seen = asyncio.run(run_in_room(f"{server.ws_url}/ws/{room_id}"))
        for frames in seen:
            result = frames[-1]
            assert (result["status"], result["reason"], result["limit"]) == (
                "tests_failed", "tests_failed", None,
            )  # fmt: skip
            streamed = "".join(f["data"] for f in frames if f["type"] == "execution_output")
            assert streamed == result["output"]
            assert "FAIL: test_wrong (__main__.TestAdd.test_wrong)" in streamed
            assert "AssertionError: 4 != 5" in streamed
            assert "Ran 2 tests in " in streamed
            assert streamed.endswith("FAILED (failures=1)\n")
        with urllib.request.urlopen(f"{server.url}/rooms/{room_id}", timeout=10) as response:
            last_run = json.loads(response.read())["lastRun"]
        assert (last_run["status"], last_run["reason"]) == ("tests_failed", "tests_failed")


def test_output_with_sleeps_streams_line_by_line_to_everyone(tmp_path: Path) -> None:
    with live_server(tmp_path) as server:
        room_id = create_room(server.url, STREAMING_PROGRAM)
        seen = asyncio.run(run_in_room(f"{server.ws_url}/ws/{room_id}"))
        for frames in seen:
            kinds = [f["type"] for f in frames]
            assert kinds[0] == "execution_lock"
            assert kinds[-1] == "execution_result"
            assert frames[-1]["status"] == "ok"
            # One batch per line, in order, each before the result: the lines were handed on
            # as they were printed, half a second apart, not gathered at the end.
            outputs = [f["data"] for f in frames if f["type"] == "execution_output"]
            assert outputs == ["line 0\n", "line 1\n", "line 2\n", "line 3\n"]
