"""docs/architecture.md "Guarantees", 2 (durability), against a real server process and SIGKILL.

Four editors type into one room with one push in flight each; each types `HOLD_AT - 1` edits,
then waits for the restart before typing the rest. Once the editors have been sent `KILL_AT`
updates, the server process is killed with SIGKILL (no shutdown, no flush), typically while
pushes are in flight, and restarted on the same database file and port. Every update any
editor was sent as `code_update` before the kill must be in the restored log at the same
version, and the restored document must be that log replayed. Then the editors reconnect with
their `clientId`s, pull, push their unconfirmed changes again (those the server committed but
never confirmed are skipped, the others accepted) and type on; in the end all hold the server's
document, at exactly the number of distinct changes made.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
from collections import Counter
from pathlib import Path

import pytest

from tests.live.sim import Crowd, Frame, LogView, SimEditor, create_room, get_room, pull_log, replay
from tests.support.live_server import LiveServer, launch

pytestmark = pytest.mark.live

WRITERS = 4
EDITS = 40
HOLD_AT = 31  # edits 31.. wait for the restart, so typing goes on after it
KILL_AT = 60  # of the WRITERS * (HOLD_AT - 1) updates made before the restart
DEADLINE_S = 80.0  # a hung run fails here (a restart alone may take 30 s on a busy machine)
INITIAL = "import math\n\nprint(math.pi)  # π ≈ 3.14 🥧\n"
ENV = {"PAIRPAD_LOG_LEVEL": "info"}


async def test_confirmed_updates_survive_sigkill_and_restart(tmp_path: Path) -> None:
    rng = random.Random(7)
    db, log = tmp_path / "pairpad.db", tmp_path / "server.log"
    servers = [launch(db, log, env=ENV)]
    first = servers[0]
    try:
        room = await create_room(first.url, INITIAL)
        room_id = room["roomId"]
        server_up = asyncio.Event()
        server_up.set()
        restart_done = asyncio.Event()
        crowd = Crowd(LogView())
        for i in range(WRITERS):
            SimEditor(crowd, first.ws_url, room_id, f"writer{i}", rng.randrange(2**32),
                      edits=EDITS, think_s=0.02, reachable=server_up.wait,
                      hold=(HOLD_AT, restart_done))
        async with asyncio.timeout(DEADLINE_S):
            async with asyncio.TaskGroup() as group:
                for editor in crowd.editors:
                    group.create_task(editor.run())
                await crowd.log.reached(KILL_AT)
                server_up.clear()  # editors wait for the restart instead of retrying
                await asyncio.to_thread(first.stop, signal.SIGKILL)
                assert first.proc.returncode == -signal.SIGKILL
                restarted = await asyncio.to_thread(launch, db, log, first.port, ENV)
                servers.append(restarted)
                init, restored = await pull_log(restarted.ws_url, room_id)
                check_restored(crowd.log, init, restored)
                server_up.set()
                restart_done.set()
            state = await get_room(restarted.url, room_id)
            _, final_log = await pull_log(restarted.ws_url, room_id)
    except BaseException:
        print(log.read_text(errors="replace")[-6000:])
        raise
    finally:
        for server in servers:
            stop(server)

    made = {e.client_id: e.made for e in crowd.editors}
    assert state["version"] == crowd.target == sum(made.values()), "updates lost or duplicated"
    for editor in crowd.editors:
        assert editor.model is not None
        assert editor.model.doc == state["code"], f"{editor.client_id} diverged"
    assert Counter(u["clientId"] for u in final_log) == made, "changes lost or doubled"
    assert replay(INITIAL, final_log) == state["code"]


def check_restored(seen: LogView, init: Frame, restored: list[Frame]) -> None:
    """Every update the editors were sent is in the restored log, at the same version."""
    assert seen.top >= KILL_AT
    assert init["version"] >= seen.top, (
        f"restored at version {init['version']}; editors had been sent update {seen.top}")
    for version, (client_id, changes) in sorted(seen.updates.items()):
        got = restored[version - 1]
        assert (got["clientId"], json.dumps(got["changes"])) == (client_id, changes), (
            f"update {version} was sent as {(client_id, changes)}; restored as {got}")
    assert init["code"] == replay(INITIAL, restored[: init["version"]])


def stop(server: LiveServer) -> None:
    if server.proc.poll() is None:
        server.proc.kill()
        server.proc.wait()

