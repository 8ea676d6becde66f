"""Real-Chromium tests of the bundled web editor against a real Pairpad server process
(as Datasette's test_playwright.py does). Run in their own pytest process:

    .venv/bin/pytest tests/browser -p no:cacheprovider

Everything waits on a condition with a deadline (Playwright's expect / wait_for_function);
nothing sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Browser, ConsoleMessage, ViewportSize, async_playwright, expect

from tests.browser.harness import (
    WAIT_MS,
    ColorScheme,
    Editor,
    HasUrl,
    OpenEditor,
    SocketLink,
    build_editor,
    label_fade_script,
    launch_chromium,
)
from tests.support.cluster_fixtures import (
    member_factory,
    nginx_factory,
    postgres,
    redis,
    redis_session,
)
from tests.support.live_server import LiveServer, launch

# The cluster's fixtures (real PostgreSQL, Redis, nginx, Pairpad processes) for test_cluster.py;
# imported by name so that pytest finds them in this conftest.
__all__ = ["member_factory", "nginx_factory", "postgres", "redis", "redis_session"]

# Every expect() waits up to WAIT_MS unless told otherwise (Playwright's default is 5 s, short
# for a loaded CI machine; a wait ends as soon as its condition holds).
expect.set_options(timeout=WAIT_MS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.path):
            item.add_marker(pytest.mark.browser)


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
async def warm_server(server: LiveServer) -> LiveServer:
    """`server` once its completions are warm (`GET /ready`): for tests that want Jedi's
    answers rather than the AST fallback of the warm-up."""
    await asyncio.to_thread(server.wait_ready)
    return server


@pytest.fixture
async def open_editor(browser: Browser) -> AsyncIterator[OpenEditor]:
    """Factory: `await open_editor(server, room_id, "Alice")` → an Editor online in the room
(`server`: a LiveServer, or nginx in front of a cluster); `label_fade_ms` sets how long remote
    cursor labels stay (docs/editor.md "Remote cursors").
    At the end of the test, no page may have had a JavaScript error or a console error."""
    editors: list[Editor] = []

    async def factory(
        live: HasUrl,
        room_id: str,
        name: str,
        *,
        color_scheme: ColorScheme = "light",
        allow_reconnect_noise: bool = False,
        link: SocketLink | None = None,
        viewport: ViewportSize | None = None,
        label_fade_ms: int | None = None,
    ) -> Editor:
        context = await browser.new_context(
            viewport=viewport or {"width": 1280, "height": 800}, color_scheme=color_scheme
        )
        if label_fade_ms is not None:
            await context.add_init_script(label_fade_script(label_fade_ms))
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
        if link:
            await link.attach(page)
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
