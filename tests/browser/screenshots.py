"""Screenshots of the editor in light and dark (the room, the landing page, the name prompt and
the room on a phone, a run reading the input box, a run stopped by the other person, the
history panel, the share dialog, the read-only viewer, diagnostics with the signature tooltip),
with the browser set-up of the tests, kept in docs/screenshots/. Run `scripts/screenshots`
(starts its own server), or `scripts/screenshots --url http://127.0.0.1:8000` against one
already running."""

from __future__ import annotations

import argparse
import asyncio
import re
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
from tests.support.live_server import REPO, launch, wait_completion_ready

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

SHAPES = '''def area(width: float, height: float) -> float:
    """Width times height, in square units."""
    return width * height


rooms = {"kitchen": (3.5, 4), "hall": (1.2, 6)}
'''

# The history: Alice and Bob each add lines, in turns, so the slider has versions to cross.
HISTORY_TURNS = (
    ("Alice", 6, 'rooms["study"] = (3, 3.2)'),
    ("Bob", 7, "total = sum(area(w, h) for w, h in rooms.values())"),
    ("Alice", 8, 'print(f"{len(rooms)} rooms, {total:.1f} m²")'),
    ("Bob", 9, "biggest = max(rooms, key=lambda r: area(*rooms[r]))"),
    ("Alice", 10, 'print("biggest:", biggest)'),
)

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
    return await open_page(browser, f"{base}/r/{room}?name={name}", scheme, viewport)


async def open_page(
    browser: Browser, url: str, scheme: ColorScheme, viewport: ViewportSize = SIZE
) -> Page:
    """A room's page (or a read-only link's) in its own context, once it is online."""
    context = await browser.new_context(
        viewport=viewport, color_scheme=scheme, device_scale_factor=1
    )
    await context.add_init_script(KEEP_LABELS)
    page = await context.new_page()
    await page.goto(url)
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
    # Bob at the end of line 2: his label sits above it, past the end of line 1 (at the start
    # of the document it would sit below his caret, over line 2's code).
    await bob.locator(".cm-line").nth(1).click()
    await bob.keyboard.press("End")
    await expect(alice.locator(".cm-remote-label")).to_be_visible(timeout=WAIT_MS)
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


async def type_line(page: Page, after_line: int, text: str) -> None:
    """A new line under line `after_line` (1-based), typed as a person would."""
    await page.locator(".cm-line").nth(after_line - 1).click()
    await page.keyboard.press("End")
    await page.keyboard.press("Enter")
    await page.keyboard.press("Shift+Home")  # no auto-indent carried over
    await page.keyboard.type(text, delay=5)


async def settled(page: Page) -> None:
    await page.wait_for_function("() => window.pairpad.settled()", timeout=WAIT_MS)


async def shoot_history(browser: Browser, base: str, scheme: ColorScheme) -> None:
    """The history panel half-way along the slider, the authors' gutter in the live editor."""
    room = await create_room(Base(base), SHAPES, name="Floor plan")
    pages = {name: await open_room(browser, base, room, name, scheme) for name in ("Alice", "Bob")}
    for name, line, text in HISTORY_TURNS:
        await type_line(pages[name], line, text)
        await settled(pages[name])
        for other in pages.values():
            await other.wait_for_function(
                "t => window.pairpad.doc().includes(t)", arg=text, timeout=WAIT_MS)
    alice = pages["Alice"]
    await alice.get_by_role("button", name="History").click()
    panel = alice.locator(".history-panel")
    bobs = alice.locator(".editor-pane .cm-author-mark[title^='Bob']")
    await expect(bobs).to_have_count(2, timeout=WAIT_MS)
    slider = alice.locator(".history-slider")
    await expect(slider).not_to_have_attribute("max", "0", timeout=WAIT_MS)
    middle = int(await slider.get_attribute("max") or "0") // 2
    await slider.evaluate(
        "(el, at) => { el.value = String(at); el.dispatchEvent(new Event('input')); }", middle)
    await expect(panel.locator(".history-label")).to_contain_text("Version", timeout=WAIT_MS)
    preview = alice.locator(".history-preview")
    await expect(preview).not_to_have_attribute("data-version", re.compile(r"^x"), timeout=WAIT_MS)
    await alice.mouse.move(0, 0)
    await alice.screenshot(path=str(OUT / f"history-{scheme}.png"))
    for page in pages.values():
        await page.context.close()


async def shoot_sharing(browser: Browser, base: str, scheme: ColorScheme) -> None:
    """The share dialog with a link; the viewer's page (its badge) while Alice types; Alice's
    people list with the viewer counted."""
    room = await create_room(Base(base), SHAPES, name="Floor plan")
    alice = await open_room(browser, base, room, "Alice", scheme)
    await alice.get_by_role("button", name="Share read-only link").click()
    dialog = alice.get_by_role("dialog", name="Share read-only link")
    await dialog.get_by_role("button", name="New read-only link").click()
    field = dialog.get_by_label("Read-only link", exact=True)
    await expect(field).to_have_value(re.compile(r"/v/[A-Za-z0-9_-]+$"), timeout=WAIT_MS)
    url = await field.input_value()
    await alice.screenshot(path=str(OUT / f"share-{scheme}.png"))
    await dialog.get_by_role("button", name="Close").click()

    viewer = await open_page(browser, f"{url}?name=Val", scheme)
    await expect(viewer.locator(".viewer-badge")).to_have_text("Viewer · read-only")
    await expect(alice.locator(".people-panel .watching")).to_have_text(" · 1 watching",
                                                                        timeout=WAIT_MS)
    # Under a blank line, so that her label above the caret hides no code.
    await type_line(alice, 7, 'print(area(*rooms["kitch')
    await viewer.wait_for_function(
        "() => window.pairpad.doc().includes('rooms[\"kitch')", timeout=WAIT_MS)
    await expect(viewer.locator(".cm-remote-label")).to_have_count(1, timeout=WAIT_MS)
    await viewer.screenshot(path=str(OUT / f"viewer-{scheme}.png"))
    await viewer.context.close()
    await alice.context.close()


async def shoot_language(browser: Browser, base: str, scheme: ColorScheme) -> None:
    """An unused import and an undefined name underlined, the signature tooltip while typing
    (over the blank lines above it, clear of the underlines)."""
    code = "import os\n\n" + SHAPES + "print(rooms[kitchen])\n"
    room = await create_room(Base(base), code, name="Floor plan")
    alice = await open_room(browser, base, room, "Alice", scheme)
    errors = alice.locator(".cm-lintRange-error")
    await expect(errors).to_have_text("kitchen", timeout=WAIT_MS)
    await expect(alice.locator(".cm-lintRange-warning")).to_have_text("os")
    await type_line(alice, 7, "print(area(")
    tooltip = alice.locator(".cm-signature")
    await expect(tooltip.locator(".cm-signature-active")).to_contain_text("width", timeout=WAIT_MS)
    await alice.keyboard.type("2.5, ")
    await expect(tooltip.locator(".cm-signature-active")).to_contain_text("height",
                                                                         timeout=WAIT_MS)
    # The half-typed call's own diagnostics gone: only the undefined name stays underlined.
    await settled(alice)
    await expect(errors).to_have_text("kitchen", timeout=WAIT_MS)
    await alice.screenshot(path=str(OUT / f"language-{scheme}.png"))
    await alice.context.close()


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
                    await asyncio.to_thread(wait_completion_ready, base)
                    for scheme in ("light", "dark"):
                        await shoot(browser, base, scheme)
                        await shoot_runs(browser, base, scheme)
                        await shoot_history(browser, base, scheme)
                        await shoot_sharing(browser, base, scheme)
                        await shoot_language(browser, base, scheme)
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
