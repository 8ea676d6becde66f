"""Convergence under random editing (docs/architecture.md "Guarantees", 1): three people type,
delete, move and press Enter at random, at once, while one of them loses the connection for
a while; afterwards every editor shows the server's document."""

from __future__ import annotations

import asyncio
import random

import pytest
from playwright.async_api import expect

from tests.browser.harness import (
    RECONNECT_WAIT_MS,
    Editor,
    OpenEditor,
    SocketLink,
    create_room,
    room_code,
)
from tests.support.live_server import LiveServer

KEYS = ["Backspace", "Delete", "Enter", "ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown",
        "Home", "End"]
WORDS = ["a", "bc", "xyz", " ", "q1", "_w", "42"]
OPS = 40


async def edit_at_random(editor: Editor, rng: random.Random, ops: int) -> None:
    for _ in range(ops):
        if rng.random() < 0.45:
            await editor.page.keyboard.type(rng.choice(WORDS), delay=5)
        else:
            await editor.page.keyboard.press(rng.choice(KEYS))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("seed", [1, 2])
async def test_random_concurrent_editing_converges(
    server: LiveServer, open_editor: OpenEditor, seed: int
) -> None:
    room = await create_room(server, "first line\nsecond line\nthird line\nfourth line\n")
    link = SocketLink()
    editors = [
        await open_editor(server, room, "Alice"),
        await open_editor(server, room, "Bob", link=link, allow_reconnect_noise=True),
        await open_editor(server, room, "Carol"),
    ]
    for line, editor in enumerate(editors, start=1):
        await editor.click_end_of_line(line)
    rngs = [random.Random(seed * 100 + i) for i in range(len(editors))]

    async def bob_with_an_outage() -> None:
        bob = editors[1]
        await edit_at_random(bob, rngs[1], OPS // 3)
        await link.cut()
        await expect(bob.page.locator(".room-page")).not_to_have_attribute("data-conn", "online")
        await edit_at_random(bob, rngs[1], OPS // 3)
        link.restore()
        await edit_at_random(bob, rngs[1], OPS - 2 * (OPS // 3))

    await asyncio.gather(
        edit_at_random(editors[0], rngs[0], OPS),
        bob_with_an_outage(),
        edit_at_random(editors[2], rngs[2], OPS),
    )

    for editor in editors:
        await editor.wait_settled(deadline_ms=RECONNECT_WAIT_MS)
    code = await room_code(server, room)
    for editor in editors:
        await editor.wait_doc_equals(code)
