"""Operator endpoints under `/admin` (PROTOCOL.md "REST"): bearer token, compared in constant
time. Listing reads the store, so it never loads rooms into memory."""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

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
    if isinstance(target, Room):
        return {"roomId": target.room_id, "name": target.name, "language": target.language,
                "version": target.published_version, "participantCount": len(target.connections),
                "codeLength": target.published_length, "locked": target.run is not None,
                "createdAt": target.created_at, "updatedAt": target.updated_at}
    return {"roomId": target.room_id, "name": target.name, "language": target.language,
            "version": target.version, "participantCount": 0, "codeLength": target.code_length,
            "locked": False, "createdAt": target.created_at, "updatedAt": target.updated_at}


async def list_rooms(request: Request) -> Response:
    hub = _authorize(request)
    limit = _int_param(request, "limit", 50, MAX_LIMIT)
    offset = _int_param(request, "offset", 0, None)
    records, total = await hub.services.store.list_rooms(limit, offset)
    rooms = [admin_room(hub.rooms.get(r.room_id) or r) for r in records]
    return JSONResponse({"rooms": rooms, "total": total})


async def get_room(request: Request) -> Response:
    hub = _authorize(request)
    room = await hub.get(request.path_params["room_id"])
    connections = []
    participants = {p["clientId"]: p for p in room.participants_wire()}
    for client_id, conn in room.connections.items():
        connections.append({**participants[client_id], "connectedAt": conn.connected_at,
                            "remote": conn.remote})
    return JSONResponse({
        **admin_room(room), "code": room.published_text, "connections": connections,
        "recentExecutions": await hub.services.store.recent_runs(room.room_id),
    })


async def delete_room(request: Request) -> Response:
    hub = _authorize(request)
    await hub.delete(request.path_params["room_id"])
    return Response(status_code=204)
