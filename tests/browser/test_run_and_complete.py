"""Runs and completions, as both people in the room see them."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.harness import WAIT_MS, OpenEditor, create_room
from tests.support.live_server import LiveServer

PROGRAM = 'import sys\nprint("hello from pairpad")\nprint("to stderr", file=sys.stderr)\n'


async def test_run_shows_the_same_output_to_both(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, PROGRAM)
    alice = await open_editor(server, room, "Alice")
    bob = await open_editor(server, room, "Bob")

    await alice.page.locator(".cm-content").click()
    await alice.page.keyboard.press("Control+Enter")

    for editor in (alice, bob):
        output = editor.page.locator(".output")
        stdout = output.locator(".out-stdout")
        await expect(stdout).to_have_text("hello from pairpad\n", timeout=WAIT_MS)
        await expect(output.locator(".out-stderr")).to_have_text("to stderr\n")
        status = output.locator(".output-status")
        await expect(status).to_contain_text("Finished")
        await expect(status).to_contain_text("ran the code as of")
        await expect(status).to_contain_text("Alice")


async def test_a_long_run_holds_the_lock_until_someone_stops_it(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, 'print("started", flush=True)\nwhile True:\n    pass\n')
    alice = await open_editor(server, room, "Alice")
    bob = await open_editor(server, room, "Bob")

    await alice.page.get_by_role("button", name="Run").click()
    for editor in (alice, bob):
        await expect(editor.page.locator(".lock-banner")).to_be_visible()
        await expect(editor.page.locator(".output-log")).to_have_text("started\n")
    await expect(alice.page.locator(".lock-banner")).to_contain_text("You are running the code")
    await expect(bob.page.locator(".lock-banner")).to_contain_text("Alice is running the code")
    await expect(bob.page.get_by_role("button", name="Run")).to_be_disabled()

    # A late joiner sees the lock and what the run printed so far.
    carol = await open_editor(server, room, "Carol")
    await expect(carol.page.locator(".lock-banner")).to_contain_text("Alice is running")
    await expect(carol.page.locator(".output-log")).to_have_text("started\n")

    await bob.page.get_by_role("button", name="Stop").click()

    for editor in (alice, bob, carol):
        await expect(editor.page.locator(".lock-banner")).to_be_hidden()
        await expect(editor.page.locator(".output-status")).to_contain_text("Stopped by Bob")
        await expect(editor.page.get_by_role("button", name="Run")).to_be_enabled()


async def test_math_sq_offers_sqrt(warm_server: LiveServer, open_editor: OpenEditor) -> None:
    server = warm_server
    room = await create_room(server, "import math\n")
    alice = await open_editor(server, room, "Alice")
    bob = await open_editor(server, room, "Bob")

    await alice.click_end_of_line(2)
    await alice.page.keyboard.type("math.sq")

    popup = alice.page.locator(".cm-tooltip-autocomplete")
    await expect(popup).to_contain_text("sqrt", timeout=WAIT_MS)
    # A click accepts at once (Enter is ignored for the popup's first 75 ms, by design, so a
    # popup that appears just as someone presses Enter does not swallow their newline).
    await popup.get_by_role("option", name="sqrt").first.click()

    await bob.wait_doc_contains("math.sqrt")
    assert (await alice.doc()).startswith("import math\nmath.sqrt")
