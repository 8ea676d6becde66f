"""How a run's ending reads in the room (docs/editor.md "Input for runs", "Run results"): the
input box feeds `input()`, the end line says what ended the run in plain words to everyone,
and notices about a run holding the lock go away when it ends."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.browser.harness import OpenEditor, create_room
from tests.support.live_server import LiveServer

LOOP = 'print("started", flush=True)\nwhile True:\n    pass\n'


async def test_input_reads_the_box_and_the_output_shows_prompt_and_line(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, 'name = input("who? ")\nprint("hi", name)\n')
    alice = await open_editor(server, room, "Alice")
    bob = await open_editor(server, room, "Bob")

    await alice.page.get_by_role("textbox", name="Input").fill("Ada\n")
    await alice.page.get_by_role("button", name="Run").click()

    for editor in (alice, bob):
        await expect(editor.page.locator(".output-log")).to_have_text("who? Ada\nhi Ada\n")
        await expect(editor.page.locator(".output-status")).to_contain_text("Finished")
    # Each person's input is their own: Bob's box stayed empty.
    await expect(bob.page.get_by_role("textbox", name="Input")).to_have_value("")


async def test_a_stop_by_the_other_person_is_named_to_both(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, LOOP)
    alice = await open_editor(server, room, "Alice")
    bob = await open_editor(server, room, "Bob")

    await alice.page.get_by_role("button", name="Run").click()
    await expect(bob.page.locator(".output-log")).to_have_text("started\n")
    await bob.page.get_by_role("button", name="Stop").click()

    for editor in (alice, bob):
        status = editor.page.locator(".output-status")
        await expect(status).to_contain_text("Stopped by Bob")
        await expect(status).to_contain_text(re.compile(r"ran the code as of \d\d:\d\d:\d\d"))
        await expect(status).to_contain_text("run by Alice")
        await expect(status).not_to_contain_text("version")


async def test_the_already_running_notice_goes_away_when_the_run_ends(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, LOOP)
    alice = await open_editor(server, room, "Alice")
    bob = await open_editor(server, room, "Bob")

    await alice.page.get_by_role("button", name="Run").click()
    await expect(bob.page.locator(".lock-banner")).to_contain_text("Alice is running the code")
    await bob.page.locator(".cm-content").click()
    await bob.page.keyboard.press("Control+Enter")  # Run is disabled; the shortcut explains
    notice = bob.page.locator(".notice")
    await expect(notice).to_contain_text("Alice is already running the code")

    await alice.page.get_by_role("button", name="Stop").click()
    await expect(bob.page.locator(".output-status")).to_contain_text("Stopped by Alice")
    await expect(notice).to_be_hidden()
    await expect(bob.page.locator(".lock-banner")).to_be_hidden()


async def test_an_output_flood_says_the_output_limit_was_reached(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, 'while True:\n    print("x" * 1000)\n')
    alice = await open_editor(server, room, "Alice")

    await alice.page.get_by_role("button", name="Run").click()
    status = alice.page.locator(".output-status")
    await expect(status).to_contain_text("Output limit reached: first 64 KiB shown")
    await expect(status).not_to_contain_text("Killed")


async def test_a_memory_hog_says_the_memory_limit_was_reached(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, "x = [0] * (10 ** 9)\n")
    alice = await open_editor(server, room, "Alice")

    await alice.page.get_by_role("button", name="Run").click()
    await expect(alice.page.locator(".output-status")).to_contain_text(
        "Memory limit (256 MiB) reached")


async def test_input_over_the_limit_is_refused_in_the_editor(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, "print(input())\n")
    alice = await open_editor(server, room, "Alice")

    await alice.page.get_by_role("textbox", name="Input").fill("x" * (2**20 + 1))
    await alice.page.get_by_role("button", name="Run").click()
    await expect(alice.page.locator(".notice")).to_contain_text(
        "The input is too long to run with: 1 MiB, at most 1 MiB")
    await expect(alice.page.locator(".output-status")).to_have_text("Nothing has run yet.")
