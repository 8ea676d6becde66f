"""Real-Chromium tests of the bundled web editor against a real Pairpad server process
(STYLE.md: Datasette's test_playwright.py). Run in their own pytest process:

    .venv/bin/pytest tests/browser -p no:cacheprovider

Everything waits on a condition with a deadline (Playwright's expect / wait_for_function);
nothing sleeps.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    async_playwright,
    expect,
)

from tests.support.live_server import REPO, LiveServer, launch

pytestmark = pytest.mark.browser

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.path):
            item.add_marker(pytest.mark.browser)


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


async def create_room(server: LiveServer, code: str = "", name: str = "test room") -> str:
    room = await asyncio.to_thread(
        http_json, "POST", f"{server.url}/rooms", {"name": name, "code": code}
    )
    return str(room["roomId"])


async def room_code(server: LiveServer, room_id: str) -> str:
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


OpenEditor = Callable[..., Awaitable[Editor]]

# Chromium's own console lines when a WebSocket cannot connect (the server is down on purpose).
RECONNECT_NOISE = ("WebSocket connection to", "ERR_CONNECTION_REFUSED")


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await launch_chromium(playwright)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    build_editor()
    base = tmp_path_factory.mktemp("browser-server")
    live = launch(base / "pairpad.db", base / "server.log")
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
async def open_editor(browser: Browser) -> AsyncIterator[OpenEditor]:
    """Factory: `await open_editor(server, room_id, "Alice")` → an Editor online in the room.
    At the end of the test, no page may have had a JavaScript error or a console error."""
    editors: list[Editor] = []

    async def factory(
        live: LiveServer,
        room_id: str,
        name: str,
        *,
        color_scheme: ColorScheme = "light",
        allow_reconnect_noise: bool = False,
    ) -> Editor:
        context = await browser.new_context(
            viewport={"width": 1280, "height": 800}, color_scheme=color_scheme
        )
        page = await context.new_page()
        editor = Editor(page=page, context=context, name=name)

        def on_console(message: ConsoleMessage) -> None:
            if message.type != "error":
                return
            if allow_reconnect_noise and any(n in message.text for n in RECONNECT_NOISE):
                return
            editor.errors.append(f"console error: {message.text}")

        page.on("pageerror", lambda exc: editor.errors.append(f"page error: {exc}"))
        page.on("console", on_console)
        editors.append(editor)
        await page.goto(f"{live.url}/r/{room_id}?name={name}")
        await editor.wait_online()
        await expect(page.locator(".cm-content")).to_be_visible()
        return editor

    try:
        yield factory
        errors = [f"{e.name}: {err}" for e in editors for err in e.errors]
        assert errors == [], "JavaScript errors on the page"
    finally:
        for editor in editors:
            await editor.context.close()
