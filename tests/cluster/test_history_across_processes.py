"""docs/protocol.md "History" in a deployment of two processes on a real PostgreSQL and Redis:
a restore sent to the process that does not own the room is made by the owner, reaches the
owner's editor as one `code_update` and is in the history every process reads."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

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


async def test_a_restore_whose_owner_does_not_answer_is_503_room_moved_and_can_be_retried(
        member_factory: MemberFactory) -> None:
    """The owner frozen (SIGSTOP) with its lease still held: the other process waits for its
    answer, then says 503 `room_moved` (retry). Once the owner runs again, the retry lands."""
    owner, other = member_factory(), member_factory()
    status, room = await rest("POST", f"{owner.url}/rooms", {"code": "a\n"})
    assert status == 201
    room_id = room["roomId"]
    async with asyncio.timeout(DEADLINE_S):
        async with websockets.connect(f"{owner.ws_url}/ws/{room_id}/ann?name=Ann") as ann:
            await next_of(ann, "init")  # the room is loaded, and owned, by `owner`
            await type_line(ann, 0, 2, "b")
        owner.proc.send_signal(signal.SIGSTOP)
        try:
            status, error = await rest("POST", f"{other.url}/rooms/{room_id}/restore",
                                       {"version": 0, "author": "Teacher"})
        finally:
            owner.proc.send_signal(signal.SIGCONT)
        assert (status, error["error"]["code"]) == (503, "room_moved")
        # The owner may find its lease lapsed and hand the room on: more 503s, then answers.
        status, restored = await retrying("POST", f"{other.url}/rooms/{room_id}/restore",
                                          {"version": 0})
        assert status == 200, restored
        status, state = await retrying("GET", f"{other.url}/rooms/{room_id}")
        # Restored once: by the request the frozen owner found on waking, or by the retry.
        assert (status, state.get("code"), state.get("version")) == (200, "a\n", 2), state


async def retrying(method: str, url: str, body: dict[str, object] | None = None
                   ) -> tuple[int, dict[str, Any]]:
    """As a client told `room_moved` would: again, with a growing pause (the room's lease
    changes hands within a few seconds), a bounded number of times."""
    pause = 0.1
    for _attempt in range(12):
        status, answer = await rest(method, url, body)
        if status != 503:
            break
        await asyncio.sleep(pause)  # the client's backoff, not a synchronization
        pause = min(pause * 2, 1.0)
    return status, answer
