"""Logging set-up and the per-request log line. Lines carry room ids, event names and timings;
never a user's code or output."""

from __future__ import annotations

import logging
import re
import sys
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.metrics import Metrics

log = logging.getLogger("pairpad.http")

_ROOM_IN_PATH = re.compile(r"^/(?:admin/)?rooms/([^/]+)|^/r/([^/]+)")


def configure(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestLog:
    """Pure ASGI middleware: one log line and one latency observation per HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_of(scope)
            self.metrics.requests.labels(scope["method"], route, str(status[0])).observe(elapsed)
            match = _ROOM_IN_PATH.match(scope["path"])
            room = next((g for g in match.groups() if g), "-") if match else "-"
            log.info("event=http.request method=%s route=%s room=%s status=%d ms=%.1f",
                     scope["method"], route, room, status[0], elapsed * 1000)
