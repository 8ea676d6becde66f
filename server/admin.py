"""Operator endpoints under `/admin` (docs/protocol.md "REST"): bearer token, its digest
compared in constant time (server/admin_token.py). Listing reads the store, so it never loads
rooms into memory."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server import models
from server.admin_token import matches
from server.body import parse_query
from server.errors import Unauthorized
from server.hub import Hub
from server.room import Room
from server.store import RoomRecord


def _authorize(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    expected: str = request.app.state.admin_digest
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not matches(given.strip(), expected):
        raise Unauthorized("missing or wrong admin token")
    return hub


def admin_room(target: Room | RoomRecord) -> dict[str, Any]:
    """docs/protocol.md `AdminRoom`, of a loaded room or of one only in the store."""
    if isinstance(target, Room):
        return target.summary()
    return models.AdminRoom(
        room_id=target.room_id, name=target.name, language=target.language,
        version=target.version, participant_count=0, code_length=target.code_length,
        locked=False, created_at=target.created_at, updated_at=target.updated_at,
    ).model_dump(by_alias=True)


async def list_rooms(request: Request) -> Response:
    hub = _authorize(request)
    query = parse_query(request, models.RoomListQuery)
    records, total = await hub.services.store.list_rooms(query.limit, query.offset)
    rooms = [admin_room(hub.rooms.get(r.room_id) or r) for r in records]
    if hub.cluster is not None:  # rooms owned by other processes: what their owners publish
        published = await hub.cluster.summaries(
            [r.room_id for r in records if r.room_id not in hub.rooms])
        rooms = [published.get(room["roomId"], room) for room in rooms]
    return JSONResponse({"rooms": rooms, "total": total})


async def get_room(request: Request) -> Response:
    hub = _authorize(request)
    room_id = request.path_params["room_id"]
    detail = await hub.describe(room_id)
    return JSONResponse({**detail,
                         "recentExecutions": await hub.services.store.recent_runs(room_id)})


async def delete_room(request: Request) -> Response:
    hub = _authorize(request)
    await hub.delete(request.path_params["room_id"])
    return Response(status_code=204)
