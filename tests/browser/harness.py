"""What the browser tests and the screenshot script share: how Chromium is launched here, the
REST calls they make, and an `Editor` handle on one person's tab. Waits are conditions with
deadlines, never sleeps."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    WebSocketRoute,
    expect,
)

from tests.support.live_server import REPO

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Deadlines of the waits, in milliseconds. Generous: CI machines are slow, and a wait ends as
# soon as its condition holds.
WAIT_MS = 15_000
RECONNECT_WAIT_MS = 45_000

ColorScheme = Literal["light", "dark", "no-preference"]


def shared_area(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    """The area two boxes (`x`, `y`, `width`, `height`, as Playwright's bounding_box) share."""
    width = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
    height = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
    return float(max(0.0, width) * max(0.0, height))


def label_fade_script(ms: int) -> str:
    """An init script that sets how long remote cursor labels stay before they fade (the
    editor reads `pairpad.labelFadeMs` once, when the page starts)."""
    return f"localStorage.setItem('pairpad.labelFadeMs', '{int(ms)}');"


class HasUrl(Protocol):
    """A running Pairpad: a LiveServer, or any server given by its base URL."""

    @property
    def url(self) -> str: ...


def build_editor() -> None:
    """The bundle the server serves; quick when nothing changed."""
    subprocess.run([str(REPO / "scripts" / "build_editor")], check=True, cwd=REPO)


async def launch_chromium(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def http_json(method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def http_request(method: str, url: str, headers: dict[str, str] | None = None) -> int:
    """A bodiless request; returns the status (raises on 4xx/5xx)."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


async def create_room(server: HasUrl, code: str = "", name: str = "test room") -> str:
    room = await asyncio.to_thread(
        http_json, "POST", f"{server.url}/rooms", {"name": name, "code": code}
    )
    return str(room["roomId"])


async def room_code(server: HasUrl, room_id: str) -> str:
    room = await asyncio.to_thread(http_json, "GET", f"{server.url}/rooms/{room_id}")
    return str(room["code"])


@dataclass
class Editor:
    """One person's browser tab on a room."""

    page: Page
    context: BrowserContext
    name: str
    errors: list[str] = field(default_factory=list)

    async def doc(self) -> str:
        return str(await self.page.evaluate("window.pairpad.doc()"))

    async def wait_online(self, deadline_ms: float = WAIT_MS) -> None:
        await expect(self.page.locator(".room-page")).to_have_attribute(
            "data-conn", "online", timeout=deadline_ms
        )

    async def wait_settled(self, deadline_ms: float = WAIT_MS) -> None:
        """Connected, in step with the server, no own change unconfirmed."""
        await self.page.wait_for_function(
            "window.pairpad && window.pairpad.settled()", timeout=deadline_ms
        )

    async def wait_doc_contains(self, *parts: str, deadline_ms: float = WAIT_MS) -> None:
        await self.page.wait_for_function(
            "parts => { const d = window.pairpad && window.pairpad.doc();"
            " return d !== null && parts.every(p => d.includes(p)); }",
            arg=list(parts),
            timeout=deadline_ms,
        )

    async def wait_doc_equals(self, text: str, deadline_ms: float = WAIT_MS) -> None:
        await self.page.wait_for_function(
            "text => window.pairpad && window.pairpad.doc() === text", arg=text, timeout=deadline_ms
        )

    async def click_end_of_line(self, line: int) -> None:
        """Put the caret at the end of a 1-based line."""
        await self.page.locator(".cm-line").nth(line - 1).click()
        await self.page.keyboard.press("End")


# `await open_editor(server, room_id, "Alice")`: the fixture of that name.
OpenEditor = Callable[..., Awaitable[Editor]]


class SocketLink:
    """One page's WebSockets, routed through Playwright to the real server: everything is
    forwarded, except that the test can cut the line as a network drop would (the page sees
    its socket close with 4000, a code it reconnects after), keep it down, and drop chosen
    server messages on the floor."""

    def __init__(self) -> None:
        self.up = True
        self.dropped_types: set[str] = set()
        self.open: list[tuple[WebSocketRoute, WebSocketRoute]] = []

    async def attach(self, page: Page) -> None:
        await page.route_web_socket(re.compile(r"/ws/"), self._route)

    async def _route(self, page_side: WebSocketRoute) -> None:
        if not self.up:
            await page_side.close(code=4000, reason="link down")
            return
        server_side = page_side.connect_to_server()

        def to_page(message: str | bytes) -> None:
            if isinstance(message, str) and json.loads(message).get("type") in self.dropped_types:
                return
            page_side.send(message)

        server_side.on_message(to_page)
        self.open.append((page_side, server_side))

    async def cut(self) -> None:
        self.up = False
        open_routes, self.open = self.open, []
        for page_side, _server_side in open_routes:
            # The page side first, so the page never writes into a socket already closed
            # under it; closing one side closes the other.
            await page_side.close(code=4000, reason="link cut")

    def restore(self) -> None:
        self.dropped_types = set()
        self.up = True
