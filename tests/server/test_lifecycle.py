"""Rooms in memory and on disk over time: unloading idle rooms, the idle sweep, limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from server.hub import Hub
from tests.server.conftest import ADMIN, ClientFactory, new_room
from tests.server.wsclient import insert, push, recv_type


def hub_of(client: TestClient) -> Hub:
    hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
    return hub


def test_idle_rooms_are_unloaded_and_come_back(make_client: ClientFactory) -> None:
    client = make_client(unload_after_seconds=0)
    room_id = new_room(client, "abc")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        recv_type(a, "init")
        push(a, 0, insert(3, 3, "d"))
        recv_type(a, "code_update")
        client.portal.call(hub_of(client).sweep)  # type: ignore[union-attr]
        assert room_id in hub_of(client).rooms  # connected rooms stay
    client.portal.call(hub_of(client).sweep)  # type: ignore[union-attr]
    assert room_id not in hub_of(client).rooms
    assert client.get("/health").json()["roomsLoaded"] == 0
    state = client.get(f"/rooms/{room_id}").json()  # loaded again on demand
    assert (state["code"], state["version"]) == ("abcd", 1)


def test_rooms_idle_past_the_limit_are_deleted(make_client: ClientFactory) -> None:
    client = make_client(room_idle_days=1e-12)
    room_id = new_room(client, "old")
    # A second on, so the room is past the limit even when it was made in this millisecond.
    later = datetime.now(UTC) + timedelta(seconds=1)
    client.portal.call(hub_of(client).sweep, None, later)  # type: ignore[union-attr]
    assert client.get(f"/rooms/{room_id}").status_code == 404
    assert client.get("/admin/rooms", headers=ADMIN).json()["total"] == 0


def test_zero_idle_days_keeps_rooms_for_ever(make_client: ClientFactory) -> None:
    client = make_client(room_idle_days=0, unload_after_seconds=0)
    room_id = new_room(client, "kept")
    client.portal.call(hub_of(client).sweep)  # type: ignore[union-attr]
    assert client.get(f"/rooms/{room_id}").json()["code"] == "kept"


def test_admin_listing_reflects_activity(make_client: ClientFactory) -> None:
    client = make_client()
    first = new_room(client, "")
    second = new_room(client, "")
    with client.websocket_connect(f"/ws/{first}/a?name=A") as a:
        recv_type(a, "init")
        push(a, 0, insert(0, 0, "edit"))
        recv_type(a, "code_update")
        rooms = client.get("/admin/rooms", headers=ADMIN).json()["rooms"]
        assert [r["roomId"] for r in rooms] == [first, second]  # most recently active first
        assert (rooms[0]["participantCount"], rooms[0]["version"], rooms[0]["codeLength"]) \
            == (1, 1, 4)
