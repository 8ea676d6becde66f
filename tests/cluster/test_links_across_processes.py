"""Read-only links in a deployment of two processes on a real PostgreSQL and Redis
(docs/protocol.md "Read-only links", docs/deploy.md "The room bus"): a viewer on one process
is refused edits by the room's owner on the other, and revoking the link on either process
closes it with 4403 at once; a revocation whose bus message never came (written straight into
the database) still closes it within the store check's cadence."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import websockets

from editor_core.close_codes import CloseCode
from tests.live.sim import create_room, get_room
from tests.support.cluster_fixtures import MemberFactory
from tests.support.http_json import http
from tests.support.postgres_server import PostgresServer
from tests.support.ws_frames import closed_with, next_of

DEADLINE_S = 30.0


async def test_revoking_on_one_process_closes_viewers_on_the_other(
        member_factory: MemberFactory) -> None:
    owner, other = member_factory(), member_factory()
    room_id = (await create_room(owner.url, "x = 1\n"))["roomId"]
    status, link = await asyncio.to_thread(http, "POST", f"{other.url}/rooms/{room_id}/links",
                                           {"role": "viewer"})
    assert status == 201
    view = f"/ws/view/{link['linkId']}"
    async with asyncio.timeout(DEADLINE_S), \
            websockets.connect(f"{owner.ws_url}/ws/{room_id}/ann?name=Ann") as ann, \
            websockets.connect(f"{other.ws_url}{view}/far?name=Far") as far, \
            websockets.connect(f"{owner.ws_url}{view}/near?name=Near") as near:
        await next_of(ann, "init")
        for viewer in (far, near):
            init = await next_of(viewer, "init")
            assert "roomId" not in init
            assert init["role"] == "viewer"
        # The owner refuses the relayed viewer's push; nothing changes.
        await far.send(json.dumps({"type": "code_update", "version": 0,
                                   "updates": [{"changes": [[0, "evil"], 6]}]}))
        assert (await next_of(far, "error"))["code"] == "read_only"
        state = await get_room(other.url, room_id)
        assert (state["code"], state["version"]) == ("x = 1\n", 0)
        assert sorted(p["role"] for p in state["participants"]) == ["editor", "viewer",
                                                                     "viewer"]
        shared = await asyncio.to_thread(http, "GET", f"{other.url}/links/{link['linkId']}")
        assert "roomId" not in shared[1]

        # Revoked through the process that does not own the room.
        assert await asyncio.to_thread(
            http, "DELETE", f"{other.url}/rooms/{room_id}/links/{link['linkId']}") == (204, None)
        assert await closed_with(far) == CloseCode.REVOKED
        assert await closed_with(near) == CloseCode.REVOKED
        await ann.send(json.dumps({"type": "ping"}))
        await next_of(ann, "pong")  # the editor stays
    for member in (owner, other):
        async with asyncio.timeout(DEADLINE_S), \
                websockets.connect(f"{member.ws_url}{view}/late?name=Late") as late:
            assert await closed_with(late) == CloseCode.REVOKED


async def test_a_revocation_without_its_bus_message_still_closes_the_viewer(
        member_factory: MemberFactory, postgres: PostgresServer) -> None:
    owner, other = member_factory(), member_factory()
    room_id = (await create_room(owner.url, ""))["roomId"]
    _, link = await asyncio.to_thread(http, "POST", f"{owner.url}/rooms/{room_id}/links",
                                      {"role": "viewer"})
    async with asyncio.timeout(DEADLINE_S), websockets.connect(
            f"{other.ws_url}/ws/view/{link['linkId']}/v?name=V") as viewer:
        await next_of(viewer, "init")
        conn = await asyncpg.connect(postgres.url)
        try:  # as if the process that revoked it died before its message went out
            await conn.execute("UPDATE links SET revoked_at = $1 WHERE id = $2",
                               "2026-01-01T00:00:00.000Z", link["linkId"])
        finally:
            await conn.close()
        assert await closed_with(viewer) == CloseCode.REVOKED
