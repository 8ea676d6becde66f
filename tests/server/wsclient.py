"""Helpers for in-process WebSocket tests: read frames until the one wanted, skipping the
presence chatter that other tests do not care about."""

from __future__ import annotations

from typing import Any

from starlette.testclient import WebSocketTestSession

Frame = dict[str, Any]


def recv_type(ws: WebSocketTestSession, kind: str, limit: int = 50) -> Frame:
    """The next frame of type `kind`; fails if `limit` other frames come first."""
    for _ in range(limit):
        frame: Frame = ws.receive_json()
        if frame["type"] == kind:
            return frame
    raise AssertionError(f"no {kind!r} frame within {limit} frames")


def push(ws: WebSocketTestSession, version: int, *changes: Any) -> None:
    ws.send_json({"type": "code_update", "version": version,
                  "updates": [{"changes": c} for c in changes]})


def insert(length: int, at: int, text: str) -> list[Any]:
    """ChangeSet JSON inserting `text` at `at` in a document of `length` units."""
    sections: list[Any] = []
    if at:
        sections.append(at)
    sections.append([0, *text.split("\n")])
    if length - at:
        sections.append(length - at)
    return sections
