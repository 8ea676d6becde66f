"""A phone's screen, 390 by 844 (docs/editor.md "Small screens"): the room and the landing page
laid out in one column, the editor first, the output and the people reachable by scrolling,
nothing overlapping and nothing wider than the screen."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, Page, ViewportSize, expect

from tests.browser.harness import OpenEditor, create_room, shared_area
from tests.support.live_server import LiveServer

PHONE: ViewportSize = {"width": 390, "height": 844}

# The room page's parts a person needs, each of which must be on screen on its own.
ROOM_PARTS = [
    ".brand",
    ".room-title",
    ".conn",
    ".actions button",
    ".editor-pane",
    ".output",
    ".side > *",  # the people, the input for runs, the room's details
]


async def boxes(page: Page, selectors: list[str]) -> list[dict[str, Any]]:
    """Every visible element matching the selectors, with its box in page coordinates (so that
    boxes below the fold compare with the ones above)."""
    return list(
        await page.evaluate(
            """selectors => selectors.flatMap(sel => [...document.querySelectorAll(sel)]
                .filter(el => el.getClientRects().length > 0)
                .map((el, i) => { const r = el.getBoundingClientRect();
                    return {name: `${sel}[${i}]`, x: r.x + scrollX, y: r.y + scrollY,
                            width: r.width, height: r.height}; }))""",
            selectors,
        )
    )


def assert_laid_out(found: list[dict[str, Any]], expected: list[str]) -> None:
    names = {b["name"].rsplit("[", 1)[0] for b in found}
    assert names == set(expected), f"missing: {set(expected) - names}"
    for box in found:
        assert box["width"] > 0, box
        assert box["height"] > 0, box
        assert box["x"] >= 0, box
        assert box["x"] + box["width"] <= PHONE["width"] + 0.5, box
    clashes = [
        (a["name"], b["name"])
        for i, a in enumerate(found)
        for b in found[i + 1 :]
        if shared_area(a, b) > 0.25  # subpixel rounding
    ]
    assert clashes == [], clashes


async def test_the_room_on_a_phone_puts_the_editor_first_and_overlaps_nothing(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, "print('hello from a phone')\n", name="Phone room")
    alice = await open_editor(server, room, "Alice", viewport=PHONE)
    await open_editor(server, room, "Bob")
    page = alice.page
    await expect(page.locator(".people .person")).to_have_count(2)
    await page.get_by_role("button", name="Run").click()
    await expect(page.locator(".output-log")).to_contain_text("hello from a phone")

    found = await boxes(page, ROOM_PARTS)
    assert_laid_out(found, ROOM_PARTS)
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # The buttons take two rows at most (shorter labels on phones), so the editor starts high.
    button_rows = {round(b["y"]) for b in found if b["name"].startswith(".actions button")}
    assert len(button_rows) <= 2, button_rows
    share = page.get_by_role("button", name="Share read-only link")
    await expect(share).to_have_text("Share", use_inner_text=True)

    top = {b["name"]: b for b in found}
    editor, output = top[".editor-pane[0]"], top[".output[0]"]
    side = [b for b in found if b["name"].startswith(".side")]
    # Editor first, on the first screen and tall enough to work in; then the output, then the
    # side panels (people, input, details).
    assert editor["y"] < PHONE["height"] / 2, editor
    assert editor["height"] >= 250, editor
    assert editor["y"] + editor["height"] <= output["y"], (editor, output)
    assert output["height"] >= 150, output
    assert min(b["y"] for b in side) >= output["y"] + output["height"], (output, side)

    # The rest is reachable by scrolling.
    for part in (".output-log", ".people-panel", ".stdin-panel", ".info-panel"):
        await page.locator(part).scroll_into_view_if_needed()
        await expect(page.locator(part)).to_be_in_viewport()
    await expect(page.locator(".people")).to_contain_text("Bob")


async def test_the_landing_page_on_a_phone_is_one_column(
    server: LiveServer, browser: Browser
) -> None:
    context = await browser.new_context(viewport=PHONE)
    try:
        page = await context.new_page()
        await page.goto(server.url + "/")
        await expect(page.get_by_role("button", name="Create a room")).to_be_visible()
        parts = [".hero", "form.card"]
        found = await boxes(page, parts)
        assert_laid_out(found, parts)
        assert len(found) == 3  # the hero and two forms, one under the other
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        await context.close()
