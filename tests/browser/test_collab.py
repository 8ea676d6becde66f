"""Two people in one room: edits, convergence with the server, cursors, own-only undo, and a
server restart in the middle of typing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.browser.harness import RECONNECT_WAIT_MS, OpenEditor, create_room, room_code
from tests.support.live_server import LiveServer, launch


async def test_typing_in_one_editor_appears_in_the_other(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, "x = 1\n")
    alice = await open_editor(server, room, "Alice")
    bob = await open_editor(server, room, "Bob")

    await alice.click_end_of_line(1)
    await alice.page.keyboard.type("  # typed by alice")

    await bob.wait_doc_contains("x = 1  # typed by alice")
    await alice.wait_settled()
    assert await room_code(server, room) == await alice.doc()


async def test_typing_at_once_converges_to_the_servers_document(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, "first = 1\nsecond = 2\nthird = 3\n")
    alice = await open_editor(server, room, "Alice")
    bob = await open_editor(server, room, "Bob")
    await alice.click_end_of_line(1)
    await bob.click_end_of_line(3)

    # Both type at the same time, a key every 15 ms, so their pushes cross on the wire.
    await asyncio.gather(
        alice.page.keyboard.type(" + 10  # alice was here", delay=15),
        bob.page.keyboard.type(" + 30  # bob was here", delay=15),
    )

    for editor in (alice, bob):
        await editor.wait_doc_contains("# alice was here", "# bob was here")
        await editor.wait_settled()
    code = await room_code(server, room)
    assert code == "first = 1 + 10  # alice was here\nsecond = 2\nthird = 3 + 30  # bob was here\n"
    await alice.wait_doc_equals(code)
    await bob.wait_doc_equals(code)


async def test_the_others_cursor_shows_with_their_name(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, "first line\nsecond line\nthird line\n")
    alice = await open_editor(server, room, "Alice")
    bob = await open_editor(server, room, "Bob")

    await expect(alice.page.locator(".people")).to_contain_text("Bob")
    await bob.click_end_of_line(2)

    label = alice.page.locator(".cm-remote-label")
    await expect(label).to_have_text("Bob")
    # The label sits on the line Bob's caret is on.
    await expect(alice.page.locator(".cm-line").nth(1).locator(".cm-remote-caret")).to_have_count(1)

    # Bob selects a word: Alice sees it highlighted.
    await bob.page.keyboard.press("Control+Shift+ArrowLeft")
    await expect(alice.page.locator(".cm-remote-selection")).to_have_text("line")


async def test_undo_undoes_only_my_own_edits(server: LiveServer, open_editor: OpenEditor) -> None:
    room = await create_room(server, "a = 1\nb = 2\n")
    alice = await open_editor(server, room, "Alice")
    bob = await open_editor(server, room, "Bob")

    await alice.click_end_of_line(1)
    await alice.page.keyboard.type("  # mine")
    await bob.wait_doc_contains("# mine")
    await bob.click_end_of_line(2)
    await bob.page.keyboard.type("  # theirs")
    await alice.wait_doc_contains("# theirs")

    await alice.page.keyboard.press("Control+z")

    for editor in (alice, bob):
        await editor.wait_doc_equals("a = 1\nb = 2  # theirs\n")


# Starts its own server (each start warms Jedi up first), so it may take a while.
@pytest.mark.timeout(300)
async def test_editors_reconnect_after_a_server_restart_and_keep_offline_edits(
    tmp_path: Path, open_editor: OpenEditor
) -> None:
    db, log = tmp_path / "pairpad.db", tmp_path / "server.log"
    live = launch(db, log)
    try:
        room = await create_room(live, "one = 1\ntwo = 2\n")
        alice = await open_editor(live, room, "Alice", allow_reconnect_noise=True)
        bob = await open_editor(live, room, "Bob", allow_reconnect_noise=True)
        await alice.click_end_of_line(1)
        await alice.page.keyboard.type("  # before")
        await bob.wait_doc_contains("# before")
        await bob.click_end_of_line(2)

        await asyncio.to_thread(live.stop)
        for editor in (alice, bob):
            await expect(editor.page.locator(".room-page")).not_to_have_attribute(
                "data-conn", "online"
            )
        await alice.page.keyboard.type("  # alice offline")
        await bob.page.keyboard.type("  # bob offline")
        await expect(alice.page.locator(".pending-note")).to_contain_text("kept")

        live = await asyncio.to_thread(launch, db, log, live.port)

        for editor in (alice, bob):
            await editor.wait_doc_contains(
                "# before", "# alice offline", "# bob offline", deadline_ms=RECONNECT_WAIT_MS
            )
            await editor.wait_settled(deadline_ms=RECONNECT_WAIT_MS)
            await expect(editor.page.locator(".pending-note")).to_be_hidden()
        code = await room_code(live, room)
        assert code == "one = 1  # before  # alice offline\ntwo = 2  # bob offline\n"
        await alice.wait_doc_equals(code)
        await bob.wait_doc_equals(code)
    finally:
        live.stop()


# Starts its own server (each start warms Jedi up first), so it may take a while.
@pytest.mark.timeout(300)
async def test_a_refused_push_hands_back_the_text_and_resyncs(
    tmp_path: Path, open_editor: OpenEditor
) -> None:
    # A server that refuses documents over 60 units: Alice's paste is answered `too_large`.
    live = launch(
        tmp_path / "pairpad.db", tmp_path / "server.log", env={"PAIRPAD_MAX_DOCUMENT_LENGTH": "60"}
    )
    try:
        room = await create_room(live, "small = 1\n")
        alice = await open_editor(live, room, "Alice")
        bob = await open_editor(live, room, "Bob")
        await alice.click_end_of_line(1)
        pasted = "  # " + "far too long for this room " * 3
        await alice.page.keyboard.insert_text(pasted)

        dialog = alice.page.get_by_role("dialog", name="Your latest edits could not be synced")
        await expect(dialog).to_be_visible()
        await expect(dialog.get_by_label("Your text")).to_have_value(f"small = 1{pasted}\n")
        await dialog.get_by_role("button", name="Close").click()

        # Alice's editor is back to the room's text and keeps working.
        await alice.wait_doc_equals("small = 1\n")
        await alice.wait_settled()
        await alice.click_end_of_line(1)
        await alice.page.keyboard.type(" + 1")
        await bob.wait_doc_equals("small = 1 + 1\n")
        assert await room_code(live, room) == "small = 1 + 1\n"
    finally:
        live.stop()


def is_subsequence(part: str, text: str) -> bool:
    chars = iter(text)
    return all(c in chars for c in part)


async def test_three_editors_typing_and_deleting_at_the_same_spot_converge(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, "spot = ''\nother = 'xxxxxxxx'\n")
    alice = await open_editor(server, room, "Alice")
    bob = await open_editor(server, room, "Bob")
    carol = await open_editor(server, room, "Carol")
    # Alice and Bob both type at the very same position; Carol deletes and types nearby.
    for editor in (alice, bob):
        await editor.click_end_of_line(1)
    await carol.click_end_of_line(2)
    await carol.page.keyboard.press("ArrowLeft")

    async def carol_edits() -> None:
        for _ in range(4):
            await carol.page.keyboard.press("Backspace", delay=10)
            await carol.page.keyboard.type("yz", delay=10)

    await asyncio.gather(
        alice.page.keyboard.type("  # AAAAAAAAAAAA", delay=10),
        bob.page.keyboard.type("  # bbbbbbbbbbbb", delay=10),
        carol_edits(),
    )

    for editor in (alice, bob, carol):
        await editor.wait_settled()
    code = await room_code(server, room)
    for editor in (alice, bob, carol):
        await editor.wait_doc_equals(code)
    first, second, rest = code.split("\n")
    assert rest == ""
    assert second == "other = 'xxxxxxxyyyyz'"  # each Backspace took the last character
    assert len(first) == len("spot = ''") + 2 * len("  # AAAAAAAAAAAA")
    assert is_subsequence("  # AAAAAAAAAAAA", first)
    assert is_subsequence("  # bbbbbbbbbbbb", first)


async def test_positions_count_utf16_units_around_emoji(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, "face = '😀'\nnext = 1\n")
    alice = await open_editor(server, room, "Alice")
    bob = await open_editor(server, room, "Bob")

    # Alice types right after the emoji (inside the quotes); Bob selects "next" on line 2.
    await alice.click_end_of_line(1)
    await alice.page.keyboard.press("ArrowLeft")
    await alice.page.keyboard.type(" and 🐍 too")
    await bob.page.locator(".cm-line").nth(1).click()
    await bob.page.keyboard.press("Home")
    await bob.page.keyboard.press("Shift+End")
    await bob.page.keyboard.press("Shift+ArrowLeft")
    await bob.page.keyboard.press("Shift+ArrowLeft")
    await bob.page.keyboard.press("Shift+ArrowLeft")
    await bob.page.keyboard.press("Shift+ArrowLeft")

    expected = "face = '😀 and 🐍 too'\nnext = 1\n"
    for editor in (alice, bob):
        await editor.wait_doc_equals(expected)
        await editor.wait_settled()
    assert await room_code(server, room) == expected
    await expect(alice.page.locator(".cm-remote-selection")).to_have_text("next")
