"""A read-only link as people use it (docs/protocol.md "Read-only links", docs/editor.md):
an editor shares one, a viewer watches the room live in a read-only editor with a "viewer"
badge, the editor sees who is watching, and revoking the link closes the viewer's page."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from tests.browser.harness import WAIT_MS, Editor, OpenEditor, create_room, room_code
from tests.support.live_server import LiveServer


async def test_share_watch_and_revoke_a_read_only_link(
    server: LiveServer, browser: Browser, open_editor: OpenEditor
) -> None:
    room = await create_room(server, "print('hi')\n", name="Watched")
    alice = await open_editor(server, room, "Alice")

    await alice.page.get_by_role("button", name="Share read-only link").click()
    dialog = alice.page.get_by_role("dialog", name="Share read-only link")
    await dialog.get_by_role("button", name="New read-only link").click()
    field = dialog.get_by_label("Read-only link", exact=True)
    await expect(field).to_have_value(re.compile(r"/v/[A-Za-z0-9_-]+$"), timeout=WAIT_MS)
    url = await field.input_value()
    assert room not in url
    # The whole link shows, on the page's own surface (not the browser's default dialog).
    assert await field.evaluate("el => el.scrollWidth <= el.clientWidth")
    background = "el => getComputedStyle(el).backgroundColor"
    panel = alice.page.locator(".people-panel")
    assert await dialog.evaluate(background) == await panel.evaluate(background)
    await dialog.get_by_role("button", name="Close").click()

    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    val = Editor(page=await context.new_page(), context=context, name="Val")
    val.page.on("pageerror", lambda exc: val.errors.append(str(exc)))
    try:
        await val.page.goto(f"{url}?name=Val")
        await val.wait_online()
        await expect(val.page.locator(".viewer-badge")).to_have_text("Viewer · read-only")
        await expect(val.page.locator(".room-title")).to_have_text("Watched")
        await expect(val.page.get_by_role("button", name="Run")).to_have_count(0)
        await expect(val.page.get_by_role("button", name="Share read-only link")).to_have_count(0)
        assert await val.page.evaluate("window.pairpad.roomId") is None
        assert room not in await val.page.content()

        # The editor sees who is watching.
        await expect(alice.page.locator(".people-panel .watching")).to_have_text(" · 1 watching")
        await expect(alice.page.locator(".person", has_text="Val")).to_contain_text("viewer")
        await expect(alice.page.locator(".people-panel .count")).to_have_text("(1)")

        # The viewer follows every edit and run...
        await alice.click_end_of_line(1)
        await alice.page.keyboard.type("  # live", delay=10)
        await val.wait_doc_equals("print('hi')  # live\n")
        await alice.page.keyboard.press("Control+Enter")
        await expect(val.page.locator(".output")).to_contain_text("hi", timeout=WAIT_MS)

        # ... and its keystrokes change nothing, here or on the server.
        await val.page.locator(".cm-content").click()
        await val.page.keyboard.type("evil")
        await val.page.keyboard.press("Control+V")
        assert await val.doc() == "print('hi')  # live\n"
        await alice.wait_settled()
        assert await room_code(server, room) == "print('hi')  # live\n"

        # Revoked from the editor's dialog: the viewer's page says so at once.
        await alice.page.get_by_role("button", name="Share read-only link").click()
        dialog = alice.page.get_by_role("dialog", name="Share read-only link")
        await dialog.get_by_role("button", name="Revoke").click()
        await expect(dialog.get_by_role("status")).to_contain_text("Revoked")
        card = val.page.locator(".card.fatal")
        await expect(card).to_have_attribute("data-code", "4403", timeout=WAIT_MS)
        await expect(card).to_contain_text("This link was revoked")
        await expect(alice.page.locator(".people-panel .watching")).to_be_hidden()
        await val.page.reload()
        await expect(val.page.locator(".card.fatal")).to_have_attribute(
            "data-code", "4403", timeout=WAIT_MS)
        assert val.errors == []
    finally:
        await context.close()
