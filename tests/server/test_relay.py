"""server/relay.py without Redis: what the owner's `Link` puts on the bus, and how a
`RelayRoom` hands the owner's frames to its clients."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from editor_core.close_codes import CloseCode
from editor_core.errors import RoomFull
from server.connection import Connection
from server.errors import RoomMoved
from server.relay import Link, RelayRoom, RemotePeer


@dataclass
class FakeBus:
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def send(self, to: str, message: dict[str, Any]) -> None:
        self.sent.append((to, message))


@dataclass(eq=False)
class FakeConn:
    client_id: str
    name: str = "N"
    remote: str = "127.0.0.1:1"
    connected_at: str = "t0"
    link_id: str | None = None
    frames: list[str] = field(default_factory=list)
    closed: tuple[int, str] | None = None

    def send(self, frame: str) -> None:
        self.frames.append(frame)

    def close(self, code: int, reason: str = "") -> None:
        self.closed = (code, reason)


def conn(client_id: str) -> Connection:
    return cast(Connection, FakeConn(client_id))


async def next_turn() -> None:
    await asyncio.sleep(0)  # let call_soon callbacks of this turn run


async def test_a_link_sends_one_message_per_turn_with_each_frame_once() -> None:
    bus = FakeBus()
    link = Link(bus, "p2", "room1")
    a, b = (RemotePeer(link, c, c, c, "r", "t") for c in ("c1", "c2"))
    frame = '{"type":"code_update"}'
    a.send(frame)
    b.send(frame)
    a.close(CloseCode.REPLACED, "replaced")
    b.send('{"type":"cursor"}')
    assert bus.sent == []  # nothing before the turn ends
    await next_turn()
    assert bus.sent == [("p2", {"t": "out", "room": "room1", "items": [
        {"t": "f", "x": frame, "to": ["c1", "c2"]},
        {"t": "c", "to": "c1", "code": 4409, "reason": "replaced"},
        {"t": "f", "x": '{"type":"cursor"}', "to": ["c2"]},
    ]})]
    a.send(frame)
    await next_turn()
    assert len(bus.sent) == 2
    assert bus.sent[1][1]["items"] == [{"t": "f", "x": frame, "to": ["c1"]}]


async def test_a_relay_joins_through_the_owner_and_delivers_its_frames() -> None:
    bus = FakeBus()
    relay = RelayRoom(bus, "owner", "room1")
    ada = conn("ada")
    joining = asyncio.create_task(relay.join(ada))
    await next_turn()
    [(to, join)] = bus.sent
    assert (to, join["t"], join["client"]) == ("owner", "join", "ada")
    relay.deliver([{"t": "f", "x": "init", "to": [join["conn"]]},
                   {"t": "joined", "conn": join["conn"], "error": None}])
    await joining
    assert cast(FakeConn, ada).frames == ["init"]
    assert relay.connections == {"ada": ada}
    relay.forward(ada, '{"type":"ping"}')
    assert bus.sent[-1] == ("owner", {"t": "msg", "room": "room1", "conn": join["conn"],
                                      "text": '{"type":"ping"}'})
    relay.deliver([{"t": "f", "x": "x", "to": ["someone-else"]},
                   {"t": "c", "to": join["conn"], "code": 4410, "reason": "room deleted"}])
    assert cast(FakeConn, ada).frames == ["init"]
    assert cast(FakeConn, ada).closed == (4410, "room deleted")
    relay.leave(ada)
    assert bus.sent[-1] == ("owner", {"t": "leave", "room": "room1", "conn": join["conn"]})
    assert relay.unloadable


async def test_a_full_room_and_a_moved_room_refuse_the_join() -> None:
    bus = FakeBus()
    relay = RelayRoom(bus, "owner", "room1")
    joining = asyncio.create_task(relay.join(conn("bob")))
    await next_turn()
    relay.deliver([{"t": "joined", "conn": bus.sent[-1][1]["conn"], "error": "room_full"}])
    with pytest.raises(RoomFull):
        await joining
    assert relay.connections == {}
    waiting = asyncio.create_task(relay.join(conn("cy")))
    await next_turn()
    relay.reset("the owner changed")
    with pytest.raises(RoomMoved):
        await waiting
    with pytest.raises(RoomMoved):
        await relay.join(conn("dee"))


async def test_a_reset_closes_every_client_with_1012_and_still_sends_leaves() -> None:
    bus = FakeBus()
    relay = RelayRoom(bus, "owner", "room1")
    ada = conn("ada")
    joining = asyncio.create_task(relay.join(ada))
    await next_turn()
    conn_id = bus.sent[-1][1]["conn"]
    relay.deliver([{"t": "joined", "conn": conn_id, "error": None}])
    await joining
    relay.reset("messages lost")
    assert cast(FakeConn, ada).closed == (CloseCode.SERVICE_RESTART, "the room moved; reconnect")
    assert relay.failed
    relay.leave(ada)
    assert bus.sent[-1] == ("owner", {"t": "leave", "room": "room1", "conn": conn_id})


async def test_an_owner_that_no_longer_serves_the_room_resets_this_room_only() -> None:
    bus = FakeBus()
    relay, other = RelayRoom(bus, "owner", "room1"), RelayRoom(bus, "owner", "room2")
    ada = conn("ada")
    joining = asyncio.create_task(relay.join(ada))
    await next_turn()
    relay.deliver([{"t": "joined", "conn": bus.sent[-1][1]["conn"], "error": None}])
    await joining
    relay.deliver([{"t": "moved"}])
    assert cast(FakeConn, ada).closed == (CloseCode.SERVICE_RESTART, "the room moved; reconnect")
    assert relay.failed
    assert not other.failed
