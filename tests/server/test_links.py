"""Read-only links in process (docs/protocol.md "Read-only links"): making, listing and
revoking them, what a viewer receives and what it is refused, and that nothing it receives
names the room."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from editor_core.close_codes import CloseCode
from tests.server.conftest import ADMIN, new_room
from tests.server.wsclient import insert, push, recv_type


def make_link(client: TestClient, room_id: str) -> str:
    response = client.post(f"/rooms/{room_id}/links", json={"role": "viewer"})
    assert response.status_code == 201, response.text
    link: dict[str, Any] = response.json()
    assert link["role"] == "viewer"
    assert link["url"] == f"/v/{link['linkId']}"
    assert response.headers["location"] == link["url"]
    assert room_id not in link["url"]
    link_id: str = link["linkId"]
    return link_id


def close_code(ws: WebSocketTestSession, limit: int = 50) -> int:
    """Read until the server closes `ws`; its close code."""
    for _ in range(limit):
        try:
            ws.receive_json()
        except WebSocketDisconnect as closed:
            return closed.code
    raise AssertionError("the socket stayed open")


def test_links_are_made_listed_and_revoked(client: TestClient) -> None:
    room_id = new_room(client, "x = 1\n")
    first, second = make_link(client, room_id), make_link(client, room_id)
    assert first != second
    listed = client.get(f"/rooms/{room_id}/links").json()["links"]
    assert [link["linkId"] for link in listed] == [first, second]
    assert client.delete(f"/rooms/{room_id}/links/{first}").status_code == 204
    assert client.delete(f"/rooms/{room_id}/links/{first}").status_code == 204  # idempotent
    listed = client.get(f"/rooms/{room_id}/links").json()["links"]
    assert [link["linkId"] for link in listed] == [second]

    shared = client.get(f"/links/{second}")
    assert shared.status_code == 200
    body = shared.json()
    assert "roomId" not in body
    assert room_id not in shared.text
    assert (body["role"], body["code"], body["version"]) == ("viewer", "x = 1\n", 0)
    revoked = client.get(f"/links/{first}")
    assert (revoked.status_code, revoked.json()["error"]["code"]) == (403, "link_revoked")
    missing = client.get("/links/nope")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "link_not_found")

    other = new_room(client)
    wrong_room = client.delete(f"/rooms/{other}/links/{second}")
    assert (wrong_room.status_code, wrong_room.json()["error"]["code"]) == (404,
                                                                            "link_not_found")
    assert client.get(f"/links/{second}").status_code == 200  # untouched
    assert client.post("/rooms/nope/links", json={"role": "viewer"}).status_code == 404
    assert client.get("/rooms/nope/links").status_code == 404
    for body_sent in ({}, {"role": "editor"}, {"role": 1}):
        refused = client.post(f"/rooms/{room_id}/links", json=body_sent)
        assert (refused.status_code, refused.json()["error"]["code"]) == (422,
                                                                          "validation_error")


def test_a_viewer_sees_everything_and_changes_nothing(client: TestClient) -> None:
    room_id = new_room(client, "print:hi\n")
    link_id = make_link(client, room_id)
    seen: list[str] = []
    with client.websocket_connect(f"/ws/{room_id}/ann?name=Ann") as ann:
        recv_type(ann, "init")
        with client.websocket_connect(f"/ws/view/{link_id}/val?name=Val") as val:
            original_receive = val.receive

            def recording_receive() -> Any:
                message = original_receive()
                seen.append(str(message.get("text")))
                return message

            val.receive = recording_receive  # type: ignore[method-assign]
            init = recv_type(val, "init")
            assert "roomId" not in init
            assert (init["role"], init["code"], init["clientId"]) == ("viewer", "print:hi\n",
                                                                     "val")
            roles = {p["clientId"]: p["role"] for p in init["participants"]}
            assert roles == {"ann": "editor", "val": "viewer"}
            joined = recv_type(ann, "participant_joined")["participant"]
            assert (joined["clientId"], joined["role"]) == ("val", "viewer")

            # Everything that would change the room is refused, and nothing is applied.
            push(val, 0, insert(9, 0, "evil"))
            assert recv_type(val, "error")["code"] == "read_only"
            push(val, 0, "not a changeset")
            assert recv_type(val, "error")["code"] == "read_only"
            val.send_json({"type": "run"})
            assert recv_type(val, "error")["code"] == "read_only"
            val.send_json({"type": "stop", "runId": "r"})
            assert recv_type(val, "error")["code"] == "read_only"
            val.send_json({"type": "ping"})
            recv_type(val, "pong")  # still open
            state = client.get(f"/rooms/{room_id}").json()
            assert (state["code"], state["version"]) == ("print:hi\n", 0)

            # ... and everything editors do reaches it.
            push(ann, 0, insert(9, 0, "# a\n"))
            update = recv_type(val, "code_update")
            assert (update["version"], update["updates"][0]["clientId"]) == (0, "ann")
            ann.send_json({"type": "cursor", "version": 1, "anchor": 2, "head": 3})
            cursor = recv_type(val, "cursor")
            assert (cursor["clientId"], cursor["anchor"]) == ("ann", 2)
            ann.send_json({"type": "run"})
            assert recv_type(val, "execution_lock")["clientId"] == "ann"
            assert recv_type(val, "execution_result")["status"] == "ok"
            val.send_json({"type": "pull", "version": 0})
            assert len(recv_type(val, "code_update")["updates"]) == 1
            val.send_json({"type": "cursor", "version": 1, "anchor": 0, "head": 0})
            assert recv_type(ann, "cursor")["clientId"] == "val"  # editors see where it looks
        assert recv_type(ann, "participant_left")["clientId"] == "val"
    assert seen
    assert not any(room_id in text for text in seen)


def test_revoking_closes_viewers_with_4403_and_refuses_new_ones(client: TestClient) -> None:
    room_id = new_room(client, "x\n")
    link_id, kept = make_link(client, room_id), make_link(client, room_id)
    with client.websocket_connect(f"/ws/{room_id}/ann?name=Ann") as ann, \
            client.websocket_connect(f"/ws/view/{link_id}/v1?name=V1") as v1, \
            client.websocket_connect(f"/ws/view/{kept}/v2?name=V2") as v2:
        for ws in (ann, v1, v2):
            recv_type(ws, "init")
        assert client.delete(f"/rooms/{room_id}/links/{link_id}").status_code == 204
        assert close_code(v1) == CloseCode.REVOKED
        push(ann, 0, insert(2, 0, "y"))
        assert recv_type(v2, "code_update")["version"] == 0  # the other link's viewer stays
        assert recv_type(ann, "code_update")["version"] == 0
    with client.websocket_connect(f"/ws/view/{link_id}/v3?name=V3") as again:
        assert close_code(again) == CloseCode.REVOKED
    with client.websocket_connect("/ws/view/nope/v4?name=V4") as unknown:
        assert close_code(unknown) == CloseCode.NOT_FOUND
    with client.websocket_connect(f"/ws/view/{kept}/bad%20id?name=V") as bad:
        assert close_code(bad) == CloseCode.BAD_REQUEST


def test_a_viewer_cannot_take_an_editors_client_id(client: TestClient) -> None:
    room_id = new_room(client, "x\n")
    link_id = make_link(client, room_id)
    with client.websocket_connect(f"/ws/{room_id}/ann?name=Ann") as ann:
        recv_type(ann, "init")
        with client.websocket_connect(f"/ws/view/{link_id}/ann?name=Mallory") as impostor:
            assert close_code(impostor) == CloseCode.BAD_REQUEST
        push(ann, 0, insert(2, 0, "y"))  # the editor was not replaced
        assert recv_type(ann, "code_update")["version"] == 0
    # An editor may take over a viewer's clientId (editors may do anything).
    with client.websocket_connect(f"/ws/view/{link_id}/same?name=S") as viewer:
        recv_type(viewer, "init")
        with client.websocket_connect(f"/ws/{room_id}/same?name=S") as editor:
            assert recv_type(editor, "init")["role"] == "editor"
            assert close_code(viewer) == CloseCode.REPLACED
            state = client.get(f"/rooms/{room_id}").json()
            assert [p["role"] for p in state["participants"]] == ["editor"]


def test_deleting_the_room_deletes_its_links(client: TestClient) -> None:
    room_id = new_room(client)
    link_id = make_link(client, room_id)
    with client.websocket_connect(f"/ws/view/{link_id}/v?name=V") as viewer:
        recv_type(viewer, "init")
        assert client.delete(f"/admin/rooms/{room_id}", headers=ADMIN).status_code == 204
        assert close_code(viewer) == CloseCode.DELETED
    assert client.get(f"/links/{link_id}").status_code == 404


@pytest.mark.parametrize("route", ["/v/abc"])
def test_the_viewer_page_is_the_editor(client: TestClient, route: str) -> None:
    page = client.get(route)
    assert page.status_code in (200, 503)  # 503 only while the editor is not built
    assert client.get("/").status_code == page.status_code
