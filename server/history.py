"""The history routes (docs/protocol.md "History"): a room's updates with their authors,
any kept version's text, who last touched each line, and restoring a version.

Reads go to the store, so any process answers them; a restore is an edit, made by the room's
owner (`Hub.restore`). Seeking starts from the newest keyframe at or below the version, so it
replays at most `--keyframe-interval` updates (docs/storage.md "History").
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from editor_core.changeset import ChangeSet
from editor_core.errors import HistoryGone
from editor_core.history import line_versions, replay
from server import models
from server.body import parse_json, parse_query
from server.errors import RoomNotFound, VersionNotFound
from server.hub import ROOM_ID, Hub
from server.store import RoomStore, Stretch

RESTORE_AUTHOR = "restore"


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def _room_id(request: Request) -> str:
    room_id: str = request.path_params["room_id"]
    if not ROOM_ID.match(room_id):
        raise RoomNotFound(f"room {room_id!r} does not exist")
    return room_id


def _missing(room_id: str) -> RoomNotFound:
    return RoomNotFound(f"room {room_id!r} does not exist")


async def history(request: Request) -> Response:
    hub, room_id = _hub(request), _room_id(request)
    query = parse_query(request, models.HistoryQuery)
    page = await hub.services.store.history(room_id, query.before, query.limit)
    record = await hub.services.store.get_room(room_id)
    if page is None or record is None:
        raise _missing(room_id)
    entries, oldest = page
    return JSONResponse(models.HistoryPage(
        version=record.version, oldest_version=oldest,
        entries=[models.HistoryEntry.model_validate(e, from_attributes=True) for e in entries],
    ).model_dump(by_alias=True))


async def text_at(store: RoomStore, room_id: str, version: int) -> tuple[str, str | None]:
    """The document at `version` and when it was made; `VersionNotFound` above the room's
    version, `HistoryGone` for one no longer kept."""
    stretch = await store.stretch(room_id, version)
    if stretch is None:
        raise _missing(room_id)
    if version > stretch.record.version:
        raise VersionNotFound(f"version {version} is above the room's"
                              f" ({stretch.record.version})")
    keyframe = stretch.keyframe
    if keyframe is None or len(stretch.updates) != version - keyframe.version:
        raise HistoryGone(f"version {version} is no longer kept; every version from"
                          f" {stretch.oldest_full} is, and older ones at their keyframes")
    code = replay(keyframe.text, (ChangeSet.from_json(u.changes) for u in stretch.updates))
    time = stretch.updates[-1].time if stretch.updates else keyframe.time
    return code, time


async def version(request: Request) -> Response:
    hub, room_id = _hub(request), _room_id(request)
    number: int = request.path_params["version"]
    code, time = await text_at(hub.services.store, room_id, number)
    return JSONResponse(models.VersionResponse(version=number, code=code, time=time)
                        .model_dump(by_alias=True))


def blame_lines(stretch: Stretch) -> list[dict[str, Any]]:
    """docs/protocol.md `BlameLine`s of the room's version from a stretch of its log."""
    keyframe = stretch.keyframe
    if keyframe is None:  # a store always keeps its newest keyframe
        raise RuntimeError(f"room {stretch.record.room_id} has no keyframe")
    who: dict[int, tuple[str | None, str | None, str | None]] = {
        keyframe.version: (None, None, keyframe.time)}
    for update in stretch.updates:
        who[update.version] = (update.author, update.client_id, update.time)
    versions = line_versions(keyframe.text, keyframe.version, [
        (u.version, ChangeSet.from_json(u.changes)) for u in stretch.updates])
    lines = []
    for number, made in enumerate(versions, start=1):
        author, client_id, time = who[made]
        lines.append({"line": number, "author": author, "clientId": client_id,
                      "version": made, "time": time})
    return lines


async def blame(request: Request) -> Response:
    hub, room_id = _hub(request), _room_id(request)
    stretch = await hub.services.store.stretch(room_id, None)
    if stretch is None:
        raise _missing(room_id)
    # Up to --history-updates updates to replay: off the event loop.
    lines = await asyncio.to_thread(blame_lines, stretch)
    return JSONResponse(models.Blame(
        version=stretch.record.version,
        lines=[models.BlameLine.model_validate(line) for line in lines],
    ).model_dump(by_alias=True))


async def restore(request: Request) -> Response:
    hub, room_id = _hub(request), _room_id(request)
    body = await parse_json(request, models.RestoreRequest, hub.settings.max_request_bytes)
    code, _ = await text_at(hub.services.store, room_id, body.version)
    made, current = await hub.restore(room_id, code, body.author or RESTORE_AUTHOR)
    return JSONResponse(models.RestoreResponse(
        version=current, restored_version=body.version, changed=made is not None,
    ).model_dump(by_alias=True))
