"""docs/protocol.md "History" against a real server process over real sockets: two editors
type, then every history route and each of its errors; a restore reaches both editors as one
`code_update` and is itself in the history; restoring the current version changes nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.support.http_json import http, rest
from tests.support.live_server import live_server

pytestmark = pytest.mark.live

# Small, so the test sees pruned versions: every version of the last 4 updates is kept.
ENV = {"PAIRPAD_KEYFRAME_INTERVAL": "3", "PAIRPAD_HISTORY_UPDATES": "4",
       "PAIRPAD_MAX_REQUEST_BYTES": "4096"}
INITIAL = "first\n"


async def next_of(ws: ClientConnection, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame["type"] == kind:
                return frame


async def type_line(ws: ClientConnection, version: int, length: int, line: str) -> None:
    """Append `line` and a break at the end; wait until the server confirms it."""
    await ws.send(json.dumps({"type": "code_update", "version": version,
                              "updates": [{"changes": [length, [0, line, ""]]}]}))
    update = await next_of(ws, "code_update")
    assert update["version"] == version


async def test_history_routes_over_real_sockets(tmp_path: Path) -> None:
    with live_server(tmp_path, env=ENV) as server:
        base = server.url
        status, room = await rest("POST", f"{base}/rooms", {"code": INITIAL})
        assert status == 201
        rooms = f"{base}/rooms/{room['roomId']}"
        async with websockets.connect(f"{server.ws_url}/ws/{room['roomId']}/ann?name=Ann") as ann, \
                websockets.connect(f"{server.ws_url}/ws/{room['roomId']}/bob?name=Bob") as bob:
            await next_of(ann, "init")
            await next_of(bob, "init")
            texts = [INITIAL]
            for version in range(12):
                ws, name = (ann, "ann") if version % 2 == 0 else (bob, "bob")
                await type_line(ws, version, len(texts[-1]), f"{name}{version}")
                texts.append(f"{texts[-1]}{name}{version}\n")
                await next_of(bob if ws is ann else ann, "code_update")

            status, page = await rest("GET", f"{rooms}/history")
            assert status == 200
            assert page["version"] == 12
            assert [e["version"] for e in page["entries"][:4]] == [12, 11, 10, 9]
            newest = page["entries"][0]
            assert (newest["author"], newest["clientId"], newest["updates"]) == ("Bob", "bob", 1)
            assert (newest["inserted"], newest["deleted"]) == (len("bob11\n"), 0)
            assert newest["time"].endswith("Z")
            oldest = page["oldestVersion"]
            assert oldest <= 12 - 4
            older = [e for e in page["entries"] if e["version"] <= oldest]
            assert older
            assert all(e["updates"] >= 1 for e in older)
            status, paged = await rest("GET", f"{rooms}/history?before=10&limit=2")
            assert [e["version"] for e in paged["entries"]] == [9, 8]

            for version in [0, *range(oldest, 13), *(e["version"] for e in older)]:
                status, got = await rest("GET", f"{rooms}/versions/{version}")
                assert (status, got["code"], got["version"]) == (200, texts[version], version)
            gone = next(v for v in range(1, oldest)
                        if v not in {e["version"] for e in older})
            status, error = await rest("GET", f"{rooms}/versions/{gone}")
            assert (status, error["error"]["code"]) == (410, "history_gone")
            status, error = await rest("GET", f"{rooms}/versions/13")
            assert (status, error["error"]["code"]) == (404, "version_not_found")

            status, blame = await rest("GET", f"{rooms}/blame")
            assert status == 200
            assert blame["version"] == 12
            authors = [line["author"] for line in blame["lines"]]
            assert authors[0] is None  # unchanged since the oldest version kept
            # The lines typed at versions 11 and 12, and the empty one Bob's break opened.
            assert authors[-3:] == ["Ann", "Bob", "Bob"]
            assert [line["line"] for line in blame["lines"]] == list(range(1, 15))

            # Restore version 0: one update to both editors, authored by the caller.
            status, restored = await rest("POST", f"{rooms}/restore",
                                          {"version": 0, "author": "Teacher"})
            assert (status, restored) == (200, {"version": 13, "restoredVersion": 0,
                                                "changed": True})
            for ws in (ann, bob):
                update = await next_of(ws, "code_update")
                assert update["version"] == 12
                assert len(update["updates"]) == 1
            status, state = await rest("GET", rooms)
            assert (state["code"], state["version"]) == (INITIAL, 13)
            status, page = await rest("GET", f"{rooms}/history?limit=1")
            assert page["entries"][0]["author"] == "Teacher"
            status, blame = await rest("GET", f"{rooms}/blame")
            assert [line["author"] for line in blame["lines"]] == [None, "Teacher"]

            # Restoring what the document already is adds nothing.
            status, same = await rest("POST", f"{rooms}/restore", {"version": 13})
            assert (status, same) == (200, {"version": 13, "restoredVersion": 13,
                                            "changed": False})
            status, page = await rest("GET", f"{rooms}/history?limit=1")
            assert page["version"] == 13
            assert page["entries"][0]["author"] == "Teacher"
            # And a restore is undone by restoring the version before it.
            status, undone = await rest("POST", f"{rooms}/restore", {"version": 12})
            assert (status, undone["changed"], undone["version"]) == (200, True, 14)
            status, state = await rest("GET", rooms)
            assert state["code"] == texts[12]
            for ws in (ann, bob):
                await next_of(ws, "code_update")

        for method, path, body, expected in [
            ("GET", "/rooms/nope/history", None, (404, "room_not_found")),
            ("GET", "/rooms/nope/versions/0", None, (404, "room_not_found")),
            ("GET", "/rooms/nope/blame", None, (404, "room_not_found")),
            ("POST", "/rooms/nope/restore", {"version": 0}, (404, "room_not_found")),
            ("GET", f"/rooms/{room['roomId']}/history?limit=x", None, (422, "validation_error")),
            ("POST", f"/rooms/{room['roomId']}/restore", {"version": -1},
             (422, "validation_error")),
            ("POST", f"/rooms/{room['roomId']}/restore", {"version": 0, "author": "a\nb"},
             (422, "validation_error")),
            ("POST", f"/rooms/{room['roomId']}/restore", {"version": 99},
             (404, "version_not_found")),
            ("POST", f"/rooms/{room['roomId']}/restore", {"version": gone},
             (410, "history_gone")),
            ("POST", f"/rooms/{room['roomId']}/restore", {"version": 0, "author": "x" * 5000},
             (413, "too_large")),
            ("POST", f"/rooms/{room['roomId']}/restore", {"version": 0, "by": "Ann"},
             (422, "validation_error")),
        ]:
            status, error = await rest(method, base + path, body)
            assert (status, error["error"]["code"]) == expected, (method, path, error)
        status, error = await asyncio.to_thread(http, "POST", f"{rooms}/restore", data=b"{")
        assert (status, error["error"]["code"]) == (400, "invalid_json")
