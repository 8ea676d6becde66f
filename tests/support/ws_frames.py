"""Reading frames from a real server's WebSocket (websockets' asyncio client), for the live and
cluster tests."""

from __future__ import annotations

import json
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed


async def next_of(ws: ClientConnection, kind: str) -> dict[str, Any]:
    """The next frame of type `kind`, skipping the others."""
    while True:
        frame: dict[str, Any] = json.loads(await ws.recv())
        if frame["type"] == kind:
            return frame


async def closed_with(ws: ClientConnection) -> int | None:
    """Read until the server closes `ws`; its close code."""
    try:
        while True:
            await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None
