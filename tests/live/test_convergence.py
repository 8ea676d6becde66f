"""docs/architecture.md "Guarantees", 1 (convergence), over real sockets against a real server.

Twelve editors (tests/live/sim.py: `CollabClient` behind a `websockets` connection, one push in
flight, pull on a gap) type random inserts, deletions and replacements into one room at once,
each dropping its connection a few times mid-typing (half of the drops abort the TCP stream
with no close handshake) and reconnecting with the same `clientId`: pull from the synced
version, then push the unconfirmed changes again. Whenever nothing of theirs is unconfirmed they
sometimes send their cursor, and check the cursors they get against their own document. When
all have typed, every editor must hold
the server's document, and the server's version must be exactly the number of distinct changes
made: none lost, none applied twice. The log itself is checked too: every editor's changes
appear in it exactly as many times as it made them, and replaying it gives the document.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.live.sim import Crowd, LogView, SimEditor, create_room, get_room, pull_log, replay
from tests.support.live_server import LiveServer, live_server

pytestmark = pytest.mark.live

EDITORS = 12
EDITS = 30
DEADLINE_S = 45.0  # a hung run fails here instead of at pytest's timeout
INITIAL = "def greet(name):\n    return f'héllo {name} 😀'\n"
ENV = {"PAIRPAD_LOG_LEVEL": "info"}


def log_tail(server: LiveServer) -> str:
    return server.log_text()[-6000:]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for every seed (each seed has a room of its own): start-up is the slow part."""
    with live_server(tmp_path_factory.mktemp("convergence"), env=ENV) as running:
        yield running


@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15])
async def test_editors_typing_at_once_with_reconnects_converge(server: LiveServer, seed: int,
                                                               ) -> None:
    rng = random.Random(seed)
    room = await create_room(server.url, INITIAL)
    room_id = room["roomId"]
    crowd = Crowd(LogView())
    for i in range(EDITORS):
        drops = frozenset(rng.sample(range(1, EDITS), k=rng.randint(1, 3)))
        SimEditor(crowd, server.ws_url, room_id, f"s{seed}-editor{i}", rng.randrange(2**32),
                  edits=EDITS, drop_after=drops)
    try:
        async with asyncio.timeout(DEADLINE_S):
            async with asyncio.TaskGroup() as group:
                for editor in crowd.editors:
                    group.create_task(editor.run())
            state = await get_room(server.url, room_id)
            _, log = await pull_log(server.ws_url, room_id)
    except BaseException:
        print(log_tail(server))
        raise

    made = {e.client_id: e.made for e in crowd.editors}
    assert crowd.target == sum(made.values()) == EDITORS * EDITS
    assert state["version"] == crowd.target, "updates lost or duplicated"
    for editor in crowd.editors:
        assert editor.model is not None
        assert editor.model.doc == state["code"], f"{editor.client_id} diverged"
        assert editor.model.version == state["version"]
        assert editor.sessions > 1, f"{editor.client_id} never reconnected"
    assert Counter(u["clientId"] for u in log) == made, "an editor's changes lost or doubled"
    assert replay(INITIAL, log) == state["code"]
