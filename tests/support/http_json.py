"""JSON over HTTP to a real server (urllib: no client library in the tests' way), for the live
and cluster tests."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any


def http(method: str, url: str, body: Any = None, *, data: bytes | None = None
         ) -> tuple[int, Any]:
    """Status and JSON answer (None for an empty body) of a request with `body` as JSON, or
    with the raw bytes `data`; an error status is answered, not raised."""
    if body is not None:
        data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        with error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None


async def rest(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    """`http` off the event loop."""
    return await asyncio.to_thread(http, method, url, body)
