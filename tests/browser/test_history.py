"""The history panel (docs/editor.md "History"): authorship in the editor's gutter, the
slider's read-only preview while the other person keeps typing, restoring a version, Play."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.browser.harness import OpenEditor, create_room, room_code
from tests.support.live_server import LiveServer

INITIAL = "a = 1\nb = 2\n"
STYLE = "el => { const s = getComputedStyle(el); return [s.color, s.backgroundColor]; }"


async def test_history_panel_slider_authors_and_restore(server: LiveServer,
                                                        open_editor: OpenEditor) -> None:
    room = await create_room(server, INITIAL)
    alice = await open_editor(server, room, "Alice")
    bob = await open_editor(server, room, "Bob")
    await alice.click_end_of_line(1)
    await alice.page.keyboard.type("  # alice")
    await alice.wait_settled()
    await bob.wait_doc_contains("# alice")
    await bob.click_end_of_line(3)
    await bob.page.keyboard.type("c = 3")
    await bob.wait_settled()
    await alice.wait_doc_contains("c = 3")
    await alice.wait_settled()

    page = alice.page
    await page.get_by_role("button", name="History").click()
    panel = page.locator(".history-panel")
    await expect(panel).to_be_visible()
    # Authorship: a mark per line of the live editor, the author's name on hover.
    marks = page.locator(".editor-pane .cm-author-mark")
    await expect(marks).to_have_count(3)
    await expect(marks.nth(0)).to_have_attribute("title", re.compile(r"^Alice · version \d+"))
    await expect(marks.nth(1)).to_have_attribute("title", "Unchanged since the room was created")
    await expect(marks.nth(2)).to_have_attribute("title", re.compile(r"^Bob · version \d+"))
    newest = await page.evaluate("window.pairpad.version()")
    preview = page.locator(".history-preview")
    await expect(preview).to_have_attribute("data-version", str(newest))

    # The slider to the start: the preview shows the room as created, read-only.
    slider = page.locator(".history-slider")
    await slider.evaluate("el => { el.value = '0'; el.dispatchEvent(new Event('input')); }")
    await expect(preview).to_have_attribute("data-version", "0")
    await expect(preview.locator(".cm-line").nth(0)).to_have_text("a = 1")
    await expect(preview.locator(".cm-content")).to_have_attribute("contenteditable", "false")
    await expect(panel.locator(".history-label")).to_contain_text("Version 0 of")
    # The preview wears the room editor's look (its colours follow light and dark).
    for part in (".cm-editor", ".cm-gutters", ".cm-line span"):
        live = await page.locator(f".editor-pane {part}").first.evaluate(STYLE)
        assert await preview.locator(part).first.evaluate(STYLE) == live, part

    # Bob keeps typing: Alice's editor follows, her preview stays where she put it.
    await bob.page.keyboard.type("  # more")
    await alice.wait_doc_contains("c = 3  # more")
    await expect(preview).to_have_attribute("data-version", "0")
    await expect(preview.locator(".cm-line").nth(0)).to_have_text("a = 1")

    # Restore version 0: one update that both editors receive.
    await bob.wait_settled()
    await panel.get_by_role("button", name="Restore this version").click()
    await expect(panel.locator(".history-message")).to_contain_text("Restored version 0")
    await alice.wait_doc_equals(INITIAL)
    await bob.wait_doc_equals(INITIAL)
    assert await room_code(server, room) == INITIAL

    # Play walks the slider to the newest version (the restore).
    await alice.wait_settled()
    await panel.get_by_role("button", name="▶ Play").click()
    await page.wait_for_function(
        "() => { const s = document.querySelector('.history-slider');"
        " return s.value === s.max && !document.querySelector('.history-preview')"
        ".dataset.version.startsWith('x'); }")
    last = await page.evaluate("window.pairpad.version()")
    await expect(preview).to_have_attribute("data-version", str(last))
    await expect(panel.get_by_role("button", name="▶ Play")).to_be_visible()

    # Closing takes the marks away.
    await panel.get_by_role("button", name="Close the history").click()
    await expect(panel).to_be_hidden()
    await expect(page.locator(".cm-author-mark")).to_have_count(0)
