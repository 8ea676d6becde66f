"""Network trouble between one editor and the server, made with Playwright's WebSocket routing:
a lost confirmation, and an absence long enough for the server to forget the history."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.browser.harness import OpenEditor, SocketLink, create_room, room_code
from tests.support.live_server import LiveServer, launch


async def test_an_edit_whose_confirmation_was_lost_lands_once(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, "base = 0\n")
    alice = await open_editor(server, room, "Alice")
    link = SocketLink()
    bob = await open_editor(server, room, "Bob", link=link)
    await bob.click_end_of_line(1)

    # Bob's push reaches the room, but its confirmation never reaches Bob.
    link.dropped_types = {"code_update"}
    await bob.page.keyboard.insert_text("  # once")
    await alice.wait_doc_contains("# once")
    assert await bob.page.evaluate("window.pairpad.pending()") == 1

    await link.cut()
    await expect(bob.page.locator(".room-page")).not_to_have_attribute("data-conn", "online")
    link.restore()

    # Reconnected, Bob pulls, recognizes his update in the log, and does not push it again.
    await bob.wait_settled()
    await alice.click_end_of_line(1)
    await alice.page.keyboard.type("  # alice after")
    for editor in (alice, bob):
        await editor.wait_doc_equals("base = 0  # once  # alice after\n")
    assert await room_code(server, room) == "base = 0  # once  # alice after\n"


# Starts its own server (each start warms Jedi up first), so it may take a while.
@pytest.mark.timeout(300)
async def test_history_gone_keeps_the_unsent_text_and_reloads(
    tmp_path: Path, open_editor: OpenEditor
) -> None:
    live = launch(
        tmp_path / "pairpad.db", tmp_path / "server.log", env={"PAIRPAD_HISTORY_UPDATES": "5"}
    )
    try:
        room = await create_room(live, "shared = 1\nmore = 2\n")
        alice = await open_editor(live, room, "Alice")
        link = SocketLink()
        bob = await open_editor(live, room, "Bob", link=link)
        await bob.click_end_of_line(1)

        await link.cut()
        await expect(bob.page.locator(".room-page")).not_to_have_attribute("data-conn", "online")
        await bob.page.keyboard.type("  # bob, offline")
        # Many updates while Bob is away: more than the 5 the server keeps.
        await alice.click_end_of_line(2)
        await alice.page.keyboard.type("  # alice typed a long while")
        await alice.wait_settled()
        link.restore()

        dialog = bob.page.get_by_role("dialog", name="Your latest edits could not be synced")
        await expect(dialog).to_be_visible(timeout=45_000)
        await expect(dialog.get_by_label("Your text")).to_have_value(
            "shared = 1  # bob, offline\nmore = 2\n"
        )
        await dialog.get_by_role("button", name="Close").click()

        code = await room_code(live, room)
        assert code == "shared = 1\nmore = 2  # alice typed a long while\n"
        await bob.wait_doc_equals(code)
        await bob.wait_settled()
    finally:
        live.stop()
