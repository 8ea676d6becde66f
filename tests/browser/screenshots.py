"""Screenshots of the editor in light and dark (the room, the landing page, the name prompt and
the room on a phone, a run reading the input box, a run stopped by the other person), with the
browser set-up of the tests, kept in docs/screenshots/. Run `scripts/screenshots` (starts its
own server), or `scripts/screenshots --url http://127.0.0.1:8000` against one already running."""

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
    http_json,
    label_fade_script,
    launch_chromium,
)
from tests.support.live_server import REPO, launch

OUT = REPO / "docs" / "screenshots"
SIZE: ViewportSize = {"width": 1280, "height": 760}
PHONE: ViewportSize = {"width": 390, "height": 844}
# The others' name labels fade 2 s after they move; the pictures keep them, as just moved.
KEEP_LABELS = label_fade_script(600_000)

SAMPLE = '''import math


def circle_area(radius: float) -> float:
    """The area of a circle, rounded for printing."""
    return round(math.pi * radius ** 2, 3)


for r in (1, 2, 3):
    print(f"r={r}: {circle_area(r)}")

print("done", math.sqrt(2))
'''

GREETER = '''name = input("Your name? ")
times = int(input("How many times? "))
for i in range(times):
    print(f"{i + 1}. Hello, {name}!")
'''

COUNTER = '''import itertools

for n in itertools.count():
    if n % 10_000_000 == 0:
        print("still counting:", n, flush=True)
'''


@dataclass
class Base:
    url: str


async def open_room(
    browser: Browser,
    base: str,
    room: str,
    name: str,
    scheme: ColorScheme,
    viewport: ViewportSize = SIZE,
) -> Page:
    context = await browser.new_context(
        viewport=viewport, color_scheme=scheme, device_scale_factor=1
    )
    await context.add_init_script(KEEP_LABELS)
    page = await context.new_page()
    await page.goto(f"{base}/r/{room}?name={name}")
    online = expect(page.locator(".room-page"))
    await online.to_have_attribute("data-conn", "online", timeout=WAIT_MS)
    return page


async def wait_completions_warm(base: str, deadline_s: float = 90.0) -> None:
    """Until Jedi answers (the server answers from the AST while it warms up, and the picture
    wants Jedi's `sqrt`); polled with a deadline."""
    code = "import math\nmath.sq"
    body = {"code": code, "cursorPosition": len(code), "language": "python"}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    while loop.time() < deadline:
        answer = await asyncio.to_thread(http_json, "POST", f"{base}/autocomplete", body)
        if any(s["label"] == "sqrt" for s in answer["suggestions"]):
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"no Jedi completions after {deadline_s} s")


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

    # Someone new opens the link: the name prompt, with the room's name.
    newcomer = await browser.new_context(viewport=SIZE, color_scheme=scheme, device_scale_factor=1)
    join = await newcomer.new_page()
    await join.goto(f"{base}/r/{room}")
    await expect(join.get_by_label("Your name")).to_be_visible(timeout=WAIT_MS)
    await join.screenshot(path=str(OUT / f"join-{scheme}.png"))
    await newcomer.close()

    # The room on a phone, the whole page: editor, then output, then people.
    phone = await open_room(browser, base, room, "Carol", scheme, viewport=PHONE)
    await expect(phone.locator(".output-log")).to_contain_text("done", timeout=WAIT_MS)
    await expect(phone.locator(".cm-remote-label")).to_have_count(2, timeout=WAIT_MS)
    await phone.screenshot(path=str(OUT / f"phone-{scheme}.png"), full_page=True)
    await phone.context.close()
    await alice.context.close()
    await bob.context.close()


async def shoot_runs(browser: Browser, base: str, scheme: ColorScheme) -> None:
    """The input box feeding input(), then a run that Bob stops, as Alice sees them."""
    room = await create_room(Base(base), GREETER, name="Greeter")
    alice = await open_room(browser, base, room, "Alice", scheme)
    bob = await open_room(browser, base, room, "Bob", scheme)
    await alice.get_by_role("textbox", name="Input").fill("Ada\n3\n")
    await alice.get_by_role("button", name="Run").click()
    status = alice.locator(".output-status")
    await expect(status).to_contain_text("Finished", timeout=WAIT_MS)
    await alice.screenshot(path=str(OUT / f"run-input-{scheme}.png"))

    counting = await create_room(Base(base), COUNTER, name="Counting")
    await alice.goto(f"{base}/r/{counting}?name=Alice")
    await bob.goto(f"{base}/r/{counting}?name=Bob")
    for page in (alice, bob):
        await expect(page.locator(".room-page")).to_have_attribute("data-conn", "online",
                                                                    timeout=WAIT_MS)
    await alice.get_by_role("button", name="Run").click()
    await expect(bob.locator(".output-log")).to_contain_text("still counting", timeout=WAIT_MS)
    await bob.get_by_role("button", name="Stop").click()
    await expect(status).to_contain_text("Stopped by Bob", timeout=WAIT_MS)
    await alice.screenshot(path=str(OUT / f"run-stopped-{scheme}.png"))
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
                    await wait_completions_warm(base)
                    for scheme in ("light", "dark"):
                        await shoot(browser, base, scheme)
                        await shoot_runs(browser, base, scheme)
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
