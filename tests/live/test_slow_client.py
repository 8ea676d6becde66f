"""A client that stops reading is disconnected and never slows the others down
(docs/architecture.md "Guarantees", 4: bounded send queues), over real sockets against a real
server process."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path

import pytest
import websockets

from tests.support.live_server import live_server

pytestmark = pytest.mark.live

BIG = 200_000  # UTF-16 units replaced per update: fills socket buffers quickly
PUSHES = 80


def test_a_client_that_stops_reading_is_dropped_alone(tmp_path: Path) -> None:
    env = {"PAIRPAD_SEND_QUEUE": "4", "PAIRPAD_MAX_DOCUMENT_LENGTH": str(2 * BIG),
           "PAIRPAD_MESSAGES_PER_SECOND": "1000"}
    with live_server(tmp_path, env=env) as server:
        request = urllib.request.Request(server.url + "/rooms", data=b"{}", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            room_id = json.loads(response.read())["roomId"]
        base = f"{server.ws_url}/ws/{room_id}"

        async def scenario() -> int:
            async with asyncio.timeout(90):
                # max_queue=1 and small buffers: the slow client's library stops reading.
                slow = await websockets.connect(f"{base}/slow?name=Slow", max_queue=1,
                                                max_size=None)
                await slow.recv()  # init, then it never reads again until the end
                async with websockets.connect(f"{base}/fast?name=Fast",
                                              max_size=None) as fast:
                    json.loads(await fast.recv())
                    length = 0
                    for version in range(PUSHES):
                        text = chr(ord("a") + version % 26) * BIG
                        changes = [[length, text]] if length else [[0, text]]
                        await fast.send(json.dumps({"type": "code_update", "version": version,
                                                    "updates": [{"changes": changes}]}))
                        while True:  # skip presence chatter until the confirmation
                            frame = json.loads(await fast.recv())
                            if frame["type"] == "code_update":
                                break
                        assert frame["version"] == version
                        length = BIG
                drained = 0
                try:
                    async for _ in slow:
                        drained += 1
                except websockets.ConnectionClosed:
                    pass
                return drained

        drained = asyncio.run(scenario())
        assert drained < PUSHES  # it was cut off, not served every update
        log = server.log_text()
        dropped = [ln for ln in log.splitlines() if "event=ws.too_slow" in ln]
        assert len(dropped) == 1
        assert "client=slow" in dropped[0]
        with urllib.request.urlopen(server.url + "/health", timeout=10) as response:
            assert json.loads(response.read())["status"] == "ok"
