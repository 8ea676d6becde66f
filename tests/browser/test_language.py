"""Language intelligence as people in a room see it (docs/editor.md "Language"): the room's
diagnostics underlined for everyone and gone for everyone once fixed; the signature tooltip
on `(` and `,`; hover; Ctrl-click and F12 go to the definition."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from tests.browser.harness import WAIT_MS, OpenEditor, create_room
from tests.support.live_server import LiveServer, wait_completion_ready

AREA = 'def area(width, height):\n    """Width times height."""\n    return width * height\n'


async def test_diagnostics_are_underlined_for_everyone_and_go_once_fixed(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, "import os\nprint(nope)\n")
    alice = await open_editor(server, room, "Alice")
    bob = await open_editor(server, room, "Bob")
    for editor in (alice, bob):
        error = editor.page.locator(".cm-lintRange-error")
        await expect(error).to_have_text("nope", timeout=WAIT_MS)
        await expect(editor.page.locator(".cm-lintRange-warning")).to_have_text("os")
        await expect(editor.page.locator(".cm-lint-marker-error")).to_have_count(1)

    # Alice defines the name: the error goes for both, the unused import stays.
    await alice.click_end_of_line(1)
    await alice.page.keyboard.type("\nnope = os.sep")
    for editor in (alice, bob):
        await expect(editor.page.locator(".cm-lintRange-error")).to_have_count(0, timeout=WAIT_MS)
        await expect(editor.page.locator(".cm-lint-marker-error")).to_have_count(0)
    await expect(bob.page.locator(".cm-lintRange-warning")).to_have_count(0)

    # A syntax error, with the parser's message on hover.
    await bob.click_end_of_line(3)
    await bob.page.keyboard.type("\nx = 1 +")
    for editor in (alice, bob):
        await expect(editor.page.locator(".cm-lintRange-error")).to_have_count(1, timeout=WAIT_MS)
    await alice.page.locator(".cm-lintRange-error").hover()
    await expect(alice.page.locator(".cm-tooltip-lint")).to_contain_text("invalid syntax")


async def test_signature_tooltip_on_open_paren_and_comma(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, AREA)
    alice = await open_editor(server, room, "Alice")
    await asyncio.to_thread(wait_completion_ready, server.url)
    await alice.click_end_of_line(4)
    await alice.page.keyboard.type("area(")
    tooltip = alice.page.locator(".cm-signature")
    await expect(tooltip).to_contain_text("area(width, height)", timeout=WAIT_MS)
    await expect(tooltip.locator(".cm-signature-active")).to_have_text("width")
    await expect(tooltip).to_contain_text("Width times height.")
    await alice.page.keyboard.type("3, ")
    await expect(tooltip.locator(".cm-signature-active")).to_have_text("height", timeout=WAIT_MS)
    await alice.page.keyboard.press("Escape")
    await expect(tooltip).to_have_count(0)


async def test_hover_and_go_to_definition(server: LiveServer, open_editor: OpenEditor) -> None:
    room = await create_room(server, AREA + "\n\nsize = area(2, 3)\n")
    alice = await open_editor(server, room, "Alice")
    await asyncio.to_thread(wait_completion_ready, server.url)
    call = alice.page.locator(".cm-line").nth(5).get_by_text("area")
    await call.hover()
    hover = alice.page.locator(".cm-hover")
    await expect(hover).to_contain_text("def area(width, height)", timeout=WAIT_MS)
    await expect(hover).to_contain_text("Width times height.")

    defined = AREA.index("area")
    await call.click(modifiers=["Control"])
    await alice.page.wait_for_function(
        "at => { const s = window.pairpad.selection(); return s && s[0] === at"
        " && s[1] === at + 4; }", arg=defined, timeout=WAIT_MS)

    # F12 at the caret does the same.
    await alice.click_end_of_line(6)
    await alice.page.keyboard.press("Home")
    await alice.page.keyboard.press("F12")  # on `size`: its own definition
    size = (AREA + "\n\n").__len__()
    await alice.page.wait_for_function(
        "at => { const s = window.pairpad.selection(); return s && s[0] === at"
        " && s[1] === at + 4; }", arg=size, timeout=WAIT_MS)
