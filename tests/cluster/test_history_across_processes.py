"""docs/protocol.md "History" in a deployment of two processes on a real PostgreSQL and Redis:
a restore sent to the process that does not own the room is made by the owner, reaches the
owner's editor as one `code_update` and is in the history every process reads."""

from __future__ import annotations

import asyncio
from pathlib import Path

import websockets

from tests.live.test_history import next_of, type_line
from tests.support.cluster_fixtures import MemberFactory
from tests.support.http_json import rest

DEADLINE_S = 30.0


async def test_restore_on_a_process_that_does_not_own_the_room(
        member_factory: MemberFactory, tmp_path: Path) -> None:
    owner, other = member_factory(), member_factory()
    status, room = await rest("POST", f"{owner.url}/rooms", {"code": "a\n"})
    assert status == 201
    room_id = room["roomId"]
    async with asyncio.timeout(DEADLINE_S), \
            websockets.connect(f"{owner.ws_url}/ws/{room_id}/ann?name=Ann") as ann:
        await next_of(ann, "init")  # the room is loaded, and owned, by `owner`
        await type_line(ann, 0, 2, "b")
        status, health = await rest("GET", f"{other.url}/health")
        assert health["roomsLoaded"] == 0

        status, restored = await rest("POST", f"{other.url}/rooms/{room_id}/restore",
                                      {"version": 0, "author": "Teacher"})
        assert (status, restored) == (200, {"version": 2, "restoredVersion": 0,
                                            "changed": True})
        update = await next_of(ann, "code_update")
        assert update["version"] == 1
        assert update["updates"][0]["clientId"].startswith("restore-")
        for member in (owner, other):
            status, state = await rest("GET", f"{member.url}/rooms/{room_id}")
            assert (state["code"], state["version"]) == ("a\n", 2)
            status, page = await rest("GET", f"{member.url}/rooms/{room_id}/history")
            assert [(e["version"], e["author"]) for e in page["entries"]] == [
                (2, "Teacher"), (1, "Ann")]
        status, health = await rest("GET", f"{other.url}/health")
        assert health["roomsLoaded"] == 0  # it relayed, it did not take the room

        status, same = await rest("POST", f"{other.url}/rooms/{room_id}/restore",
                                  {"version": 2})
        assert (status, same) == (200, {"version": 2, "restoredVersion": 2, "changed": False})
        status, error = await rest("POST", f"{other.url}/rooms/{room_id}/restore",
                                   {"version": 3})
        assert (status, error["error"]["code"]) == (404, "version_not_found")
