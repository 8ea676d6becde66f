"""Language intelligence against a real server process with the real workers: three people
edit, and each connection gets the room's diagnostics once per settled version (the same
frames for everyone, the last one for the final text); signature, hover and definition over
the socket answer on the room's document."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from editor_core.positions import utf16_length
from tests.support.live_server import live_server, wait_completion_ready

pytestmark = pytest.mark.live

EMOJI = "\N{GRINNING FACE}"


async def next_of(ws: ClientConnection, kind: str, seen: list[dict[str, Any]]) -> dict[str, Any]:
    """The next frame of type `kind`; `diagnostics` frames met on the way go to `seen`."""
    while True:
        frame: dict[str, Any] = json.loads(await ws.recv())
        if frame["type"] == "diagnostics":
            seen.append(frame)
        if frame["type"] == kind:
            return frame


def test_diagnostics_reach_everyone_once_per_version_over_real_sockets(
        tmp_path: Path) -> None:
    with live_server(tmp_path) as server:
        request = urllib.request.Request(server.url + "/rooms", method="POST",
                                         data=json.dumps({"code": f"# {EMOJI}\n"}).encode())
        with urllib.request.urlopen(request, timeout=10) as response:
            room_id = json.loads(response.read())["roomId"]
        base = f"{server.ws_url}/ws/{room_id}"
        names = ("ann", "bob", "cy")

        async def scenario() -> None:
            async with asyncio.timeout(90):
                sockets = [await websockets.connect(f"{base}/{n}?name={n}") for n in names]
                seen: list[list[dict[str, Any]]] = [[] for _ in names]
                try:
                    text = f"# {EMOJI}\n"
                    for ws, got in zip(sockets, seen, strict=True):
                        await next_of(ws, "init", got)
                    version = 0
                    lines = ["import os\n", "def f(a, b):\n", "    return a\n", "f(1, nope)\n"]
                    for i, line in enumerate(lines):  # each person types in turn
                        ws = sockets[i % len(sockets)]
                        length = utf16_length(text)
                        changes = [length, [0, *line.split("\n")]]
                        await ws.send(json.dumps({"type": "code_update", "version": version,
                                                  "updates": [{"changes": changes}]}))
                        for other, got in zip(sockets, seen, strict=True):
                            await next_of(other, "code_update", got)
                        text += line
                        version += 1
                    for ws, got in zip(sockets, seen, strict=True):
                        while not got or got[-1]["version"] != version:
                            await next_of(ws, "diagnostics", got)
                    last = seen[0][-1]
                    nope = utf16_length(text[: text.index("nope")])
                    assert [(i["from"], i["to"], i["severity"]) for i in last["items"]] == [
                        (utf16_length(text[: text.index("os")]),
                         utf16_length(text[: text.index("os")]) + 2, "warning"),
                        (nope, nope + 4, "error")]
                    for got in seen:
                        versions = [frame["version"] for frame in got]
                        assert versions == sorted(set(versions)), versions
                        assert got[-1] == last

                    # Signature, hover, definition on the room's document, from Jedi.
                    await asyncio.to_thread(wait_completion_ready, server.url)
                    ann = sockets[0]
                    at = utf16_length(text[: text.index("nope")])
                    await ann.send(json.dumps({"type": "signature", "id": "s", "version": version,
                                               "position": at}))
                    sig = await next_of(ann, "signatures", seen[0])
                    assert (sig["id"], sig["version"]) == ("s", version)
                    assert sig["signatures"][0]["label"] == "f(a, b)"
                    assert sig["signatures"][0]["activeParameter"] == 1
                    call = utf16_length(text[: text.index("f(1")])
                    await ann.send(json.dumps({"type": "hover", "id": "h", "version": version,
                                               "position": call + 1}))
                    hover = await next_of(ann, "hover_info", seen[0])
                    assert hover["contents"].startswith("```python\ndef f(a, b)")
                    await ann.send(json.dumps({"type": "definition", "id": "d",
                                               "version": version, "position": call + 1}))
                    place = await next_of(ann, "definition_location", seen[0])
                    defined = utf16_length(text[: text.index("f(a")])
                    assert place["definition"] == {"from": defined, "to": defined + 1}
                finally:
                    for ws in sockets:
                        await ws.close()

        asyncio.run(scenario())
