"""Two people in one room through nginx, their WebSockets on two different Pairpad processes of
one deployment (docs/deploy.md: a real PostgreSQL and Redis, round-robin, no sticky sessions):
they see each other's typing, names and cursor, and one run's output."""

from __future__ import annotations

import asyncio
import re
import time

from playwright.async_api import expect

from tests.browser.harness import WAIT_MS, Editor, OpenEditor, create_room, http_request
from tests.support.cluster_fixtures import MemberFactory, NginxFactory
from tests.support.live_server import LiveServer
from tests.support.nginx import NginxProxy

PROGRAM = 'print("hello from the cluster")\n'
POLL_S = 0.05  # polling interval of a deadline wait on a log file, not a synchronization sleep


async def process_of(editor: Editor, members: list[LiveServer], marks: list[int]) -> int:
    """Index of the member whose log says the page's WebSocket connected to it (the
    `event=ws.connect ... client=<id>` line), looking only past `marks` (log sizes before)."""
    client_id = str(await editor.page.evaluate("window.pairpad.clientId"))
    line = re.compile(rf"event=ws\.connect room=\S+ client={re.escape(client_id)}\b")
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        found = [i for i, member in enumerate(members)
                 if line.search(member.log_text()[marks[i]:])]
        if found:
            assert len(found) == 1, f"{editor.name}'s socket connected to {found}"
            return found[0]
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"no member logged {editor.name}'s connection ({client_id})")


async def open_on_another_process(open_editor: OpenEditor, proxy: NginxProxy, room: str,
                                  members: list[LiveServer], taken: int, name: str) -> Editor:
    """Open `name`'s page through nginx until its WebSocket is on a member other than `taken`.
    nginx (one worker) alternates backends per request, so where a page's socket lands depends
    on how many requests went before it, and a page load's own count can vary (favicon, a
    language request, a reconnect). After a landing on `taken`, one or two requests to `/health`
    (alternately) change the parity of what went before, whichever parity a page load has.
    Bounded: ten page loads."""
    for attempt in range(10):
        marks = [len(member.log_text()) for member in members]
        editor = await open_editor(proxy, room, name)
        if await process_of(editor, members, marks) != taken:
            return editor
        await editor.context.close()
        for _ in range(1 + attempt % 2):
            await asyncio.to_thread(http_request, "GET", f"{proxy.url}/health")
    raise AssertionError(f"{name}'s page kept landing on member {taken}")


async def test_two_people_on_two_processes_edit_see_each_other_and_run(
    member_factory: MemberFactory, nginx_factory: NginxFactory, open_editor: OpenEditor
) -> None:
    members = [member_factory(), member_factory()]
    proxy = nginx_factory([m.port for m in members])
    room = await create_room(proxy, "x = 1\n" + PROGRAM)

    marks = [len(member.log_text()) for member in members]
    alice = await open_editor(proxy, room, "Alice")
    alice_on = await process_of(alice, members, marks)
    bob = await open_on_another_process(open_editor, proxy, room, members, alice_on, "Bob")

    # Each sees the other in the participants list.
    await expect(alice.page.locator(".people")).to_contain_text("Bob")
    await expect(bob.page.locator(".people")).to_contain_text("Alice")

    # Both type at once on their own line; both converge on both lines.
    await alice.click_end_of_line(1)
    await bob.click_end_of_line(2)
    await asyncio.gather(
        alice.page.keyboard.type("  # alice was here", delay=15),
        bob.page.keyboard.type("  # bob was here", delay=15),
    )
    expected = 'x = 1  # alice was here\nprint("hello from the cluster")  # bob was here\n'
    for editor in (alice, bob):
        await editor.wait_doc_equals(expected)
        await editor.wait_settled()

    # Each sees the other's caret labelled with their name, on the line it is on.
    await expect(alice.page.locator(".cm-remote-label")).to_have_text("Bob")
    await expect(alice.page.locator(".cm-line").nth(1).locator(".cm-remote-caret")).to_have_count(1)
    await expect(bob.page.locator(".cm-remote-label")).to_have_text("Alice")
    await expect(bob.page.locator(".cm-line").nth(0).locator(".cm-remote-caret")).to_have_count(1)

    # Bob runs the code; both see its output and who ran it.
    await bob.page.get_by_role("button", name="Run").click()
    for editor in (alice, bob):
        output = editor.page.locator(".output")
        await expect(output.locator(".out-stdout")).to_have_text("hello from the cluster\n")
        status = output.locator(".output-status")
        await expect(status).to_contain_text("Finished")
        await expect(status).to_contain_text("Bob")
