"""The landing page, the name prompt, recent rooms and the errors a person can meet."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Browser, ConsoleMessage, expect

from tests.browser.harness import WAIT_MS, OpenEditor, create_room, http_request
from tests.support.live_server import LiveServer


async def test_create_a_room_from_the_landing_page_then_find_it_in_recent_rooms(
    server: LiveServer, browser: Browser
) -> None:
    context = await browser.new_context()
    errors: list[str] = []
    try:
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await page.goto(server.url + "/")
        await page.get_by_label("Room name").fill("Landing test")
        await page.get_by_role("button", name="Create a room").click()
        await expect(page).to_have_url(re.compile(r"/r/[A-Za-z0-9_-]+$"), timeout=WAIT_MS)

        # No ?name= and nothing remembered: the page asks, then remembers.
        await page.get_by_label("Your name").fill("Carol")
        await page.get_by_role("button", name="Join").click()
        await expect(page.locator(".room-page")).to_have_attribute(
            "data-conn", "online", timeout=WAIT_MS
        )
        await expect(page.locator(".people")).to_contain_text("Carol")
        await expect(page.locator(".room-title")).to_have_text("Landing test")
        room_url = page.url

        await page.goto(server.url + "/")
        recent = page.get_by_role("link", name="Landing test")
        await expect(recent).to_be_visible()
        await recent.click()
        await expect(page).to_have_url(room_url)
        # The remembered name is used without asking again.
        await expect(page.locator(".people")).to_contain_text("Carol", timeout=WAIT_MS)
        assert errors == []
    finally:
        await context.close()


async def test_a_first_visit_shows_no_empty_recent_rooms_card(
    server: LiveServer, browser: Browser
) -> None:
    context = await browser.new_context()  # nothing remembered yet
    try:
        page = await context.new_page()
        await page.goto(server.url + "/")
        await expect(page.get_by_role("button", name="Create a room")).to_be_visible()
        await expect(page.locator(".recent-card")).to_be_hidden()
        assert await page.get_by_label("Room name").get_attribute("maxlength") == "200"
    finally:
        await context.close()


async def test_join_by_pasting_a_link(server: LiveServer, browser: Browser) -> None:
    room = await create_room(server, "", name="Pasted")
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(server.url + "/")
        await page.get_by_label("Room link or id").fill(f"{server.url}/r/{room}?name=Zed")
        await page.get_by_role("button", name="Join", exact=True).click()
        await expect(page).to_have_url(f"{server.url}/r/{room}")
    finally:
        await context.close()


def is_error(message: ConsoleMessage) -> bool:
    """A console error, except Chromium's own line for the 404 of `GET /rooms/{id}` that
    tells the page the room does not exist."""
    expected_404 = message.text.startswith("Failed to load resource") and "/rooms/" in str(
        message.location.get("url", "")
    )
    return message.type == "error" and not expected_404


async def test_an_unknown_room_says_so_and_leads_back(server: LiveServer, browser: Browser) -> None:
    context = await browser.new_context()
    errors: list[str] = []
    try:
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if is_error(m) else None)
        await page.goto(server.url + "/r/NoSuchRoomAtAll123?name=Dora")
        card = page.locator(".fatal")
        await expect(card).to_contain_text("Room not found", timeout=WAIT_MS)
        await card.get_by_role("link", name="Back to Pairpad").click()
        await expect(page.get_by_role("button", name="Create a room")).to_be_visible()
        assert errors == []
    finally:
        await context.close()


async def test_copy_link_and_download(server: LiveServer, open_editor: OpenEditor) -> None:
    room = await create_room(server, "print('saved')\n", name="My script")
    alice = await open_editor(server, room, "Alice")
    await alice.context.grant_permissions(["clipboard-read", "clipboard-write"])

    await alice.page.get_by_role("button", name="Copy link").click()
    await expect(alice.page.get_by_role("button", name="Link copied")).to_be_visible()
    copied = await alice.page.evaluate("navigator.clipboard.readText()")
    assert copied == f"{server.url}/r/{room}"

    async with alice.page.expect_download() as info:
        await alice.page.get_by_role("button", name="Download .py").click()
    download = await info.value
    assert download.suggested_filename == "My_script.py"
    path = await download.path()
    assert path.read_text() == "print('saved')\n"


async def test_a_deleted_room_closes_both_editors_with_a_way_back(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, "print('soon gone')\n")
    alice = await open_editor(server, room, "Alice")
    bob = await open_editor(server, room, "Bob")

    await asyncio.to_thread(
        http_request,
        "DELETE",
        f"{server.url}/admin/rooms/{room}",
        {"Authorization": "Bearer test-admin-token"},
    )

    for editor in (alice, bob):
        card = editor.page.locator(".fatal")
        await expect(card).to_contain_text("This room was deleted", timeout=WAIT_MS)
        back = card.get_by_role("link", name="Back to Pairpad")
        await expect(back).to_have_attribute("href", "/")
        await expect(editor.page.locator(".room-page")).to_have_attribute("data-conn", "closed")


async def test_an_unknown_room_says_so_before_asking_for_a_name(
    server: LiveServer, browser: Browser
) -> None:
    context = await browser.new_context()  # no name remembered: a known room would ask
    try:
        page = await context.new_page()
        await page.goto(server.url + "/r/NoSuchRoomAtAll456")
        await expect(page.locator(".fatal")).to_contain_text("Room not found", timeout=WAIT_MS)
        await expect(page.get_by_label("Your name")).to_have_count(0)
    finally:
        await context.close()


async def test_the_join_screen_shows_the_room_name(server: LiveServer, browser: Browser) -> None:
    room = await create_room(server, "", name="Interview warm-up")
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(f"{server.url}/r/{room}")
        card = page.locator(".name-card")
        await expect(card.get_by_role("heading")).to_have_text("Join the room")
        await expect(card.locator(".join-room-name")).to_have_text("Interview warm-up")
        await expect(page).to_have_title("Join Interview warm-up · Pairpad")
        await page.get_by_label("Your name").fill("Eve")
        await page.get_by_role("button", name="Join").click()
        await expect(page.locator(".room-title")).to_have_text("Interview warm-up")
    finally:
        await context.close()


async def test_an_empty_room_shows_a_hint_until_someone_types(
    server: LiveServer, open_editor: OpenEditor
) -> None:
    room = await create_room(server, "")
    alice = await open_editor(server, room, "Alice")
    hint = alice.page.locator(".cm-placeholder")
    await expect(hint).to_be_visible()
    await expect(hint).to_contain_text("Ctrl/Cmd+Enter")
    await alice.page.locator(".cm-content").click()
    await alice.page.keyboard.type("x = 1")
    await expect(hint).to_have_count(0)
    await alice.wait_settled()
