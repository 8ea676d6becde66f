"""The others' cursor labels (docs/editor.md "Remote cursors"): shown when a cursor arrives or
moves, faded after a delay (set short or long through localStorage), shown again on hover, long
names cut, and the labels of cursors at one place side by side."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.harness import WAIT_MS, OpenEditor, create_room, shared_area
from tests.support.live_server import LiveServer

LONG_NAME = "Maximiliana Wolfeschlegelsteinhausen"

async def wait_label_shown(page: Page, name: str) -> None:
    """Checked at every frame: the label may be on screen only for the configured delay."""
    await page.wait_for_function(
        "name => [...document.querySelectorAll('.cm-remote-label')].some(l =>"
        " l.textContent === name && getComputedStyle(l).visibility === 'visible')",
        arg=name,
        polling="raf",
        timeout=WAIT_MS,
    )


async def caret_box(page: Page) -> dict[str, float]:
    """The remote caret's box, read in the page at a frame where it is laid out: a redraw of its
    line (presence or participant updates) replaces the widget's element, so a box asked for
    through a locator can find it detached."""
    handle = await page.wait_for_function(
        "() => { const c = document.querySelector('.cm-remote-caret');"
        " const r = c && c.getBoundingClientRect();"
        " return r && r.height > 0 ? {x: r.x, y: r.y, width: r.width, height: r.height} : null; }",
        polling="raf",
        timeout=WAIT_MS,
    )
    box: dict[str, float] = await handle.json_value()
    return box


async def test_labels_of_cursors_at_one_place_or_next_to_each_other_do_not_overlap(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, "first line\nsecond line\nthird line\n")
    alice = await open_editor(server, room, "Alice", label_fade_ms=600_000)
    bob = await open_editor(server, room, "Bob")
    long = await open_editor(server, room, LONG_NAME)
    carol = await open_editor(server, room, "Carol")
    await expect(alice.page.locator(".people .person")).to_have_count(4)

    # Bob and the long name at one place; Carol one character before it.
    await bob.click_end_of_line(2)
    await long.click_end_of_line(2)
    await carol.click_end_of_line(2)
    await carol.page.keyboard.press("ArrowLeft")

    # One row of labels per place, on the line of the carets; Bob and the long name share one.
    line = alice.page.locator(".cm-line").nth(1)
    await expect(line.locator(".cm-remote-labels")).to_have_count(2)
    shared = line.locator(".cm-remote-labels").filter(has_text="Bob")
    await expect(shared.locator(".cm-remote-label")).to_have_count(2)
    labels = {
        name: line.locator(".cm-remote-label").filter(has_text=name)
        for name in ("Bob", LONG_NAME, "Carol")
    }
    boxes = {}
    for name, label in labels.items():
        await expect(label).to_be_visible()
        box = await label.bounding_box()
        assert box, name
        boxes[name] = box
    names = list(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert shared_area(boxes[a], boxes[b]) == 0, (a, boxes[a], b, boxes[b])
    # Bob and the long name side by side on one row.
    assert abs(boxes["Bob"]["y"] - boxes[LONG_NAME]["y"]) < 1

    # The long name is cut with an ellipsis: narrower than its text, the whole name kept.
    long_label = labels[LONG_NAME]
    assert await long_label.text_content() == LONG_NAME
    cut = await long_label.evaluate(
        "l => ({scroll: l.scrollWidth, client: l.clientWidth,"
        " ellipsis: getComputedStyle(l).textOverflow})"
    )
    assert cut["scroll"] > cut["client"], cut
    assert cut["ellipsis"] == "ellipsis"
    assert boxes[LONG_NAME]["width"] < 200


async def test_a_label_fades_after_the_delay_and_shows_again_on_hover_or_movement(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, "alpha = 1\nbeta = 2\ngamma = 3\n")
    alice = await open_editor(server, room, "Alice", label_fade_ms=500)
    bob = await open_editor(server, room, "Bob")
    await expect(alice.page.locator(".people")).to_contain_text("Bob")

    # Arrival: shown, then faded after the delay.
    await bob.click_end_of_line(2)
    label = alice.page.locator(".cm-line").nth(1).locator(".cm-remote-label")
    await wait_label_shown(alice.page, "Bob")
    await expect(label).to_be_hidden()

    # Hover over the caret: shown while the pointer stays; faded again after it leaves.
    box = await caret_box(alice.page)
    await alice.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await expect(label).to_be_visible()
    await alice.page.mouse.move(5, 5)
    await expect(label).to_be_hidden()

    # Movement shows it again, then it fades.
    await bob.page.keyboard.press("Home")
    await wait_label_shown(alice.page, "Bob")
    await expect(label).to_be_hidden()
