"""Screenshots of the editor in light and dark, with the browser set-up of the tests, kept in
docs/screenshots/. Run `scripts/screenshots` (starts its own server), or
`scripts/screenshots --url http://127.0.0.1:8000` against one already running."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect

from tests.browser.harness import (
    WAIT_MS,
    ColorScheme,
    build_editor,
    create_room,
    launch_chromium,
)
from tests.support.live_server import REPO, launch

OUT = REPO / "docs" / "screenshots"
SIZE: ViewportSize = {"width": 1280, "height": 760}

SAMPLE = '''import math


def circle_area(radius: float) -> float:
    """The area of a circle, rounded for printing."""
    return round(math.pi * radius ** 2, 3)


for r in (1, 2, 3):
    print(f"r={r}: {circle_area(r)}")

print("done", math.sqrt(2))
'''


@dataclass
class Base:
    url: str


async def open_room(browser: Browser, base: str, room: str, name: str, scheme: ColorScheme) -> Page:
    context = await browser.new_context(viewport=SIZE, color_scheme=scheme, device_scale_factor=1)
    page = await context.new_page()
    await page.goto(f"{base}/r/{room}?name={name}")
    online = expect(page.locator(".room-page"))
    await online.to_have_attribute("data-conn", "online", timeout=WAIT_MS)
    return page


async def shoot(browser: Browser, base: str, scheme: ColorScheme) -> None:
    room = await create_room(Base(base), SAMPLE, name="Circle areas")
    alice = await open_room(browser, base, room, "Alice", scheme)
    bob = await open_room(browser, base, room, "Bob", scheme)

    # Bob selects the function's name; Alice runs the program, then asks for completions.
    await bob.locator(".cm-line").nth(3).click()
    await bob.keyboard.press("Home")
    for _ in range(4):
        await bob.keyboard.press("Control+ArrowRight")
    await bob.keyboard.press("Control+Shift+ArrowLeft")
    await expect(alice.locator(".cm-remote-selection")).to_be_visible(timeout=WAIT_MS)

    await alice.locator(".cm-content").click()
    await alice.keyboard.press("Control+Enter")
    status = alice.locator(".output-status")
    await expect(status).to_contain_text("ran the code as of", timeout=WAIT_MS)
    await expect(status).not_to_contain_text("Running", timeout=WAIT_MS)

    await alice.locator(".cm-line").nth(11).click()
    await alice.keyboard.press("End")
    await alice.keyboard.press("Enter")
    await alice.keyboard.type("math.sq")
    await expect(alice.locator(".cm-tooltip-autocomplete")).to_contain_text("sqrt", timeout=WAIT_MS)

    OUT.mkdir(parents=True, exist_ok=True)
    await alice.screenshot(path=str(OUT / f"room-{scheme}.png"))

    landing = await alice.context.new_page()
    await landing.goto(base + "/")
    await expect(landing.get_by_role("button", name="Create a room")).to_be_visible()
    await landing.screenshot(path=str(OUT / f"landing-{scheme}.png"))
    await alice.context.close()
    await bob.context.close()


async def main(url: str | None) -> None:
    build_editor()
    with tempfile.TemporaryDirectory() as tmp:
        live = None if url else launch(Path(tmp) / "shots.db", Path(tmp) / "server.log")
        base = url or (live.url if live else "")
        try:
            async with async_playwright() as playwright:
                browser = await launch_chromium(playwright)
                try:
                    for scheme in ("light", "dark"):
                        await shoot(browser, base, scheme)
                finally:
                    await browser.close()
        finally:
            if live:
                live.stop()
    print(f"screenshots written to {OUT.relative_to(REPO)}/")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="a running Pairpad server (default: start one)")
    asyncio.run(main(parser.parse_args().url))
