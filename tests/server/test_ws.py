"""The WebSocket half of docs/protocol.md, in process: every message, error and close code."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from editor_core.close_codes import CloseCode
from server.app import create_app
from server.config import Settings
from tests.server.conftest import ADMIN, ClientFactory, new_room
from tests.server.fakes import FakeCompleter, FakeRunner
from tests.server.wsclient import insert, push, recv_type


def test_init_carries_the_room_state(client: TestClient) -> None:
    room_id = new_room(client, "x = 1\n")
    with client.websocket_connect(f"/ws/{room_id}/alice?name=Alice") as ws:
        init = ws.receive_json()
        assert init["type"] == "init"
        assert init["roomId"] == room_id
        assert init["version"] == 0
        assert init["code"] == "x = 1\n"
        assert init["clientId"] == "alice"
        assert init["color"].startswith("#")
        assert init["lock"] is None
        assert init["lastRun"] is None
        assert init["limits"]["maxDocumentLength"] > 0
        assert [p["name"] for p in init["participants"]] == ["Alice"]


def test_updates_reach_everyone_in_order_and_are_stored(client: TestClient) -> None:
    room_id = new_room(client, "ab")
    with client.websocket_connect(f"/ws/{room_id}/a1?name=A") as a, \
            client.websocket_connect(f"/ws/{room_id}/b1?name=B") as b:
        recv_type(a, "init")
        recv_type(b, "init")
        assert recv_type(a, "participant_joined")["participant"]["clientId"] == "b1"
        push(a, 0, insert(2, 1, "X"))
        for ws in (a, b):
            update = recv_type(ws, "code_update")
            assert update == {"type": "code_update", "version": 0,
                              "updates": [{"clientId": "a1", "changes": [1, [0, "X"], 1]}]}
        push(b, 1, insert(3, 3, "Y"))
        for ws in (a, b):
            assert recv_type(ws, "code_update")["version"] == 1
    state = client.get(f"/rooms/{room_id}").json()
    assert state["code"] == "aXbY"
    assert state["version"] == 2


def test_stale_push_is_rebased_not_rejected(client: TestClient) -> None:
    room_id = new_room(client, "hello")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a, \
            client.websocket_connect(f"/ws/{room_id}/b?name=B") as b:
        recv_type(a, "init")
        recv_type(b, "init")
        push(a, 0, insert(5, 0, ">"))
        recv_type(a, "code_update")
        recv_type(b, "code_update")
        push(b, 0, insert(5, 5, "!"))  # b has not applied a's update yet
        rebased = recv_type(b, "code_update")
        assert rebased["version"] == 1
        assert rebased["updates"][0]["changes"] == [6, [0, "!"]]
    assert client.get(f"/rooms/{room_id}").json()["code"] == ">hello!"


def test_repushed_updates_are_skipped_and_confirmed(client: TestClient) -> None:
    room_id = new_room(client, "")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        recv_type(a, "init")
        push(a, 0, insert(0, 0, "x"))
        recv_type(a, "code_update")
        push(a, 0, insert(0, 0, "x"))  # as after a reconnect: nothing new
        again = recv_type(a, "code_update")
        assert again["version"] == 0
        assert again["updates"] == [{"clientId": "a", "changes": [[0, "x"]]}]
    state = client.get(f"/rooms/{room_id}").json()
    assert (state["code"], state["version"]) == ("x", 1)


def test_pull_answers_even_when_nothing_is_new(client: TestClient) -> None:
    room_id = new_room(client, "")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        recv_type(a, "init")
        a.send_json({"type": "pull", "version": 0})
        assert recv_type(a, "code_update") == {"type": "code_update", "version": 0,
                                               "updates": []}
        push(a, 0, insert(0, 0, "q"))
        recv_type(a, "code_update")
        a.send_json({"type": "pull", "version": 0})
        assert len(recv_type(a, "code_update")["updates"]) == 1
        a.send_json({"type": "pull", "version": 5})
        assert recv_type(a, "error")["code"] == "invalid_version"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ([4, [0, "x"]], "invalid_update"),  # lengths do not add up to the document
        ([[0, "a\nb"], 3], "invalid_update"),  # an inserted line holds a newline
        ([-1], "invalid_update"),
        ("nonsense", "invalid_update"),
    ],
)
def test_bad_changes_are_refused_whole(client: TestClient, changes: object, code: str) -> None:
    room_id = new_room(client, "abc")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        recv_type(a, "init")
        push(a, 0, insert(3, 0, "ok"), changes)
        assert recv_type(a, "error")["code"] == code
        a.send_json({"type": "ping"})
        assert recv_type(a, "pong") == {"type": "pong"}  # the connection stays open
    assert client.get(f"/rooms/{room_id}").json()["version"] == 0  # nothing applied


def test_surrogate_pairs_cannot_be_split(client: TestClient) -> None:
    room_id = new_room(client, "😀")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        init = recv_type(a, "init")
        assert init["code"] == "😀"
        push(a, 0, insert(2, 1, "x"))
        assert recv_type(a, "error")["code"] == "invalid_update"
        push(a, 0, insert(2, 2, "x"))
        recv_type(a, "code_update")
    assert client.get(f"/rooms/{room_id}").json()["code"] == "😀x"


def test_push_above_the_room_version_is_invalid_version(client: TestClient) -> None:
    room_id = new_room(client, "")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        recv_type(a, "init")
        push(a, 3, insert(0, 0, "x"))
        assert recv_type(a, "error")["code"] == "invalid_version"


def test_history_gone_when_older_than_kept(make_client: ClientFactory) -> None:
    client = make_client(history_updates=2)
    room_id = new_room(client, "")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        recv_type(a, "init")
        for v in range(4):
            push(a, v, insert(v, v, "x"))
            recv_type(a, "code_update")
        push(a, 0, insert(0, 0, "y"))
        assert recv_type(a, "error")["code"] == "history_gone"
        a.send_json({"type": "pull", "version": 0})
        assert recv_type(a, "error")["code"] == "history_gone"


def test_document_limit_refuses_the_push(make_client: ClientFactory) -> None:
    client = make_client(max_document_length=5)
    room_id = new_room(client, "abc")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        recv_type(a, "init")
        push(a, 0, insert(3, 3, "def"))
        assert recv_type(a, "error")["code"] == "too_large"
    assert client.get(f"/rooms/{room_id}").json()["code"] == "abc"


def test_invalid_messages_get_errors_and_the_connection_stays(client: TestClient) -> None:
    room_id = new_room(client, "")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        recv_type(a, "init")
        a.send_text("not json")
        assert recv_type(a, "error")["code"] == "invalid_message"
        a.send_json({"type": "teleport"})
        assert recv_type(a, "error")["code"] == "invalid_message"
        a.send_json({"type": "pull", "version": "0"})
        assert recv_type(a, "error")["code"] == "invalid_message"
        a.send_json({"type": "complete", "id": "q1", "version": 0})
        error = recv_type(a, "error")
        assert (error["code"], error["id"]) == ("invalid_message", "q1")
        a.send_json({"type": "ping"})
        recv_type(a, "pong")


@pytest.mark.parametrize("message", [
    {"type": "ping", "extra": 1},
    {"type": "pull", "version": 0, "since": 0},
    {"type": "cursor", "version": 0, "anchor": 0, "head": 0, "color": "red"},
    {"type": "run", "stdin": "", "timeout": 5},
    {"type": "stop", "runId": "r", "force": True},
    {"type": "complete", "id": "q2", "version": 0, "position": 0, "limit": 5},
    {"type": "code_update", "version": 0, "updates": [{"changes": [0], "clientID": "x"}]},
])
def test_unknown_fields_are_refused(client: TestClient, message: dict[str, object]) -> None:
    # docs/protocol.md "Unknown fields": refused, never silently dropped; the socket stays.
    room_id = new_room(client, "")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        recv_type(a, "init")
        a.send_json(message)
        error = recv_type(a, "error")
        assert error["code"] == "invalid_message"
        assert any(d["type"] == "extra_forbidden" for d in error["details"]), error
        a.send_json({"type": "ping"})
        recv_type(a, "pong")


def test_rate_limit(make_client: ClientFactory) -> None:
    client = make_client(messages_per_second=0.001, message_burst=3)
    room_id = new_room(client, "")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        recv_type(a, "init")
        for _ in range(3):
            a.send_json({"type": "ping"})
            recv_type(a, "pong")
        a.send_json({"type": "ping"})
        error = recv_type(a, "error")
        assert error["code"] == "rate_limited"
        assert error["retryAfterMs"] > 0


def test_cursor_is_relayed_and_mapped_forward(client: TestClient) -> None:
    room_id = new_room(client, "abcdef")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a, \
            client.websocket_connect(f"/ws/{room_id}/b?name=B") as b:
        recv_type(a, "init")
        recv_type(b, "init")
        push(a, 0, insert(6, 0, "XY"))
        recv_type(a, "code_update")
        recv_type(b, "code_update")
        b.send_json({"type": "cursor", "version": 0, "anchor": 1, "head": 3})  # stale version
        cursor = recv_type(a, "cursor")
        assert cursor == {"type": "cursor", "clientId": "b", "version": 1, "anchor": 3,
                          "head": 5}
        participants = client.get(f"/rooms/{room_id}").json()["participants"]
        assert {p["clientId"]: p["cursor"] for p in participants}["b"] == {"anchor": 3,
                                                                             "head": 5}
        b.send_json({"type": "cursor", "version": 1, "anchor": 99, "head": 0})
        assert recv_type(b, "error")["code"] == "invalid_message"


def test_presence_join_and_leave(client: TestClient) -> None:
    room_id = new_room(client, "")
    with client.websocket_connect(f"/ws/{room_id}/a?name=Ann") as a:
        recv_type(a, "init")
        with client.websocket_connect(f"/ws/{room_id}/b?name=Bob") as b:
            init = recv_type(b, "init")
            assert sorted(p["name"] for p in init["participants"]) == ["Ann", "Bob"]
            joined = recv_type(a, "participant_joined")["participant"]
            assert (joined["clientId"], joined["name"]) == ("b", "Bob")
            colors = {p["clientId"]: p["color"] for p in init["participants"]}
            assert colors["a"] != colors["b"]
        assert recv_type(a, "participant_left") == {"type": "participant_left", "clientId": "b"}


@pytest.mark.parametrize("path", ["/ws/{room}/bad%20id?name=A", "/ws/{room}/ok?name=",
                                  "/ws/{room}/" + "x" * 65 + "?name=A"])
def test_bad_client_id_or_name_closes_4400(client: TestClient, path: str) -> None:
    room_id = new_room(client, "")
    with client.websocket_connect(path.format(room=room_id)) as ws, \
            pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert closed.value.code == CloseCode.BAD_REQUEST


def test_unknown_room_closes_4404(client: TestClient) -> None:
    with client.websocket_connect("/ws/nosuchroom/a?name=A") as ws, \
            pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert closed.value.code == CloseCode.NOT_FOUND


def test_same_client_id_replaces_the_old_connection(client: TestClient) -> None:
    room_id = new_room(client, "")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as old:
        recv_type(old, "init")
        with client.websocket_connect(f"/ws/{room_id}/a?name=A") as new:
            recv_type(new, "init")
            with pytest.raises(WebSocketDisconnect) as closed:
                old.receive_json()
            assert closed.value.code == CloseCode.REPLACED
            new.send_json({"type": "ping"})
            recv_type(new, "pong")


def test_room_full_closes_4429(make_client: ClientFactory) -> None:
    client = make_client(max_participants=1)
    room_id = new_room(client, "")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        recv_type(a, "init")
        with client.websocket_connect(f"/ws/{room_id}/b?name=B") as b, \
                pytest.raises(WebSocketDisconnect) as closed:
            b.receive_json()
        assert closed.value.code == CloseCode.FULL


def test_deleting_a_room_closes_its_sockets_4410(client: TestClient) -> None:
    room_id = new_room(client, "")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        recv_type(a, "init")
        assert client.delete(f"/admin/rooms/{room_id}", headers=ADMIN).status_code == 204
        with pytest.raises(WebSocketDisconnect) as closed:
            recv_type(a, "never")
        assert closed.value.code == CloseCode.DELETED


def test_admin_sees_connections(client: TestClient) -> None:
    room_id = new_room(client, "")
    with client.websocket_connect(f"/ws/{room_id}/a?name=Ann") as a:
        recv_type(a, "init")
        detail = client.get(f"/admin/rooms/{room_id}", headers=ADMIN).json()
        assert detail["participantCount"] == 1
        [conn] = detail["connections"]
        assert (conn["clientId"], conn["name"]) == ("a", "Ann")
        assert {"connectedAt", "remote", "color", "cursor"} <= set(conn)


def test_room_survives_an_app_restart(tmp_path: Path) -> None:
    settings = Settings(db=str(tmp_path / "same.sqlite"), keyframe_interval=3)
    with TestClient(create_app(settings, execution=FakeRunner(),
                               completion=FakeCompleter())) as first:
        room_id = new_room(first, "")
        with first.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
            recv_type(a, "init")
            for v in range(7):
                push(a, v, insert(v, v, str(v)))
                recv_type(a, "code_update")
    with TestClient(create_app(settings, execution=FakeRunner(),
                               completion=FakeCompleter())) as second:
        state = second.get(f"/rooms/{room_id}").json()
        assert (state["code"], state["version"]) == ("0123456", 7)
        with second.websocket_connect(f"/ws/{room_id}/b?name=B") as b:
            recv_type(b, "init")
            push(b, 2, insert(2, 0, "z"))  # rebased over history loaded from the store
            assert recv_type(b, "code_update")["version"] == 7
        assert second.get(f"/rooms/{room_id}").json()["code"] == "z0123456"


def test_a_busy_room_sends_the_commits_of_one_window_as_one_code_update(
        make_client: ClientFactory) -> None:
    # Two authors make the room busy; the window is long enough that both later pushes are
    # committed inside it even on a loaded machine; with no fan-out budget, every busy
    # window waits.
    client = make_client(busy_authors=1, publish_window_ms=1500, publish_fanout=0)
    room_id = new_room(client, "")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a, \
            client.websocket_connect(f"/ws/{room_id}/b?name=B") as b, \
            client.websocket_connect(f"/ws/{room_id}/c?name=C") as c:
        for ws in (a, b, c):
            recv_type(ws, "init")
        push(a, 0, insert(0, 0, "a"))  # quiet so far: published at once
        assert recv_type(a, "code_update")["updates"][0]["clientId"] == "a"
        for ws in (b, c):
            recv_type(ws, "code_update")
        push(b, 1, insert(1, 1, "b"))
        push(c, 1, insert(1, 0, "c"))
        for ws in (a, b, c):
            update = recv_type(ws, "code_update")
            assert update["version"] == 1
            assert [u["clientId"] for u in update["updates"]] == ["b", "c"]
    assert client.get(f"/rooms/{room_id}").json()["version"] == 3


class HeldCommits:
    """`commit` in place of a store's `_commit`: each commit waits until `gate` is set (10 s
    at most); `entered` is set once the first one is waiting."""

    def __init__(self, store: Any) -> None:
        self.real = store._commit
        self.gate = threading.Event()
        self.entered = threading.Event()

    async def commit(self, batch: list[Any]) -> Any:
        self.entered.set()
        await asyncio.to_thread(self.gate.wait, 10)
        return await self.real(batch)


def test_updates_committed_together_go_out_as_one_code_update(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two pushes whose appends wait behind a commit in flight are committed as one group:
    each client gets one `code_update` with both (the room publishes once, after the last
    append of that commit, not once per append)."""
    store = client.app.state.hub.services.store  # type: ignore[attr-defined]
    held = HeldCommits(store)

    def queued(count: int) -> int:
        deadline = time.monotonic() + 10
        while store._queue.qsize() != count and time.monotonic() < deadline:
            time.sleep(0.01)  # polling interval of a deadline wait
        size: int = store._queue.qsize()
        return size

    room_id = new_room(client, "")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a, \
            client.websocket_connect(f"/ws/{room_id}/b?name=B") as b, \
            client.websocket_connect(f"/ws/{room_id}/c?name=C") as c:
        for ws in (a, b, c):
            recv_type(ws, "init")
        monkeypatch.setattr(store, "_commit", held.commit)
        push(a, 0, insert(0, 0, "a"))
        assert held.entered.wait(10)  # the writer took it: its commit waits at the gate
        push(b, 0, insert(0, 0, "b"))  # rebased; both queued behind the held commit
        push(c, 0, insert(0, 0, "c"))
        assert queued(2) == 2
        held.gate.set()
        for ws in (a, b, c):
            first = recv_type(ws, "code_update")
            assert (first["version"], len(first["updates"])) == (0, 1)
            second = recv_type(ws, "code_update")
            assert second["version"] == 1
            assert [u["clientId"] for u in second["updates"]] == ["b", "c"]
    assert client.get(f"/rooms/{room_id}").json()["version"] == 3


def test_a_restore_to_text_reached_by_an_update_not_yet_committed_answers_its_version(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """`changed: false` with the version at which the document is the restored text, durable:
    not the last published version, which still differs while the update making it commits."""
    hub = client.app.state.hub  # type: ignore[attr-defined]
    store = hub.services.store
    held, settling = HeldCommits(store), threading.Event()

    room_id = new_room(client, "ab")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        recv_type(a, "init")
        push(a, 0, insert(2, 2, "X"))
        assert recv_type(a, "code_update")["version"] == 0  # "abX" at version 1, committed
        room = hub.rooms[room_id]
        real_settle = room.settle

        async def watched_settle() -> None:
            settling.set()
            await real_settle()

        monkeypatch.setattr(room, "settle", watched_settle)
        monkeypatch.setattr(store, "_commit", held.commit)
        push(a, 1, [2, [1]])  # "ab" again, at version 2
        assert held.entered.wait(10)  # accepted, its commit held
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(client.post, f"/rooms/{room_id}/restore", json={"version": 0})
            settling.wait(3)  # bounded: a server that does not wait answers meanwhile
            held.gate.set()
            response = answer.result(timeout=10)
        assert response.status_code == 200
        assert response.json() == {"version": 2, "restoredVersion": 0, "changed": False}
        assert client.get(f"/rooms/{room_id}").json()["code"] == "ab"
