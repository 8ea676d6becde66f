"""Operator endpoints under `/admin` (docs/protocol.md "REST"): bearer token, compared in constant
time. Listing reads the store, so it never loads rooms into memory."""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server import models
from server.errors import Unauthorized, ValidationFailed
from server.hub import Hub
from server.room import Room
from server.store import RoomRecord

MAX_LIMIT = 500


def _authorize(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    token: str = request.app.state.admin_token
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                              token.encode()):
        raise Unauthorized("missing or wrong admin token")
    return hub


def _int_param(request: Request, name: str, default: int, high: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or (high is not None and int(raw) > high):
        bound = f"0..{high}" if high is not None else "a non-negative integer"
        raise ValidationFailed(f"{name} must be {bound}", details=[
            {"loc": ["query", name], "message": f"must be {bound}", "type": "value_error"}])
    return int(raw)


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
    limit = _int_param(request, "limit", 50, MAX_LIMIT)
    offset = _int_param(request, "offset", 0, None)
    records, total = await hub.services.store.list_rooms(limit, offset)
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
