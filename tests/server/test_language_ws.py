"""Language intelligence over the WebSocket (docs/protocol.md `diagnostics`, `signature`,
`hover`, `definition`): the room's diagnostics reach every connection once per settled
version and late joiners right after `init`; the three requests are answered with their
`id` and the version they answer, and bad ones with `invalid_message`."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient, WebSocketTestSession

from tests.server.conftest import ClientFactory, new_room
from tests.server.fakes import FakeCompleter
from tests.server.wsclient import Frame, insert, push, recv_type


def diagnostics_until(ws: WebSocketTestSession, version: int) -> list[Frame]:
    """Every `diagnostics` frame up to the one for `version` (other frames skipped)."""
    frames = [recv_type(ws, "diagnostics")]
    while frames[-1]["version"] != version:
        frames.append(recv_type(ws, "diagnostics"))
    return frames


def fake_completer(client: TestClient) -> FakeCompleter:
    completer: Any = client.app.state.hub.services.completion  # type: ignore[attr-defined]
    assert isinstance(completer, FakeCompleter)
    return completer


def test_diagnostics_reach_everyone_once_per_settled_version(
        make_client: ClientFactory) -> None:
    # A long quiet period bounded by the maximum wait: a burst of pushes is analysed once.
    client = make_client(diagnostics_quiet_ms=100, diagnostics_max_wait_ms=5000)
    room_id = new_room(client, "x = 1\n")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a, \
            client.websocket_connect(f"/ws/{room_id}/b?name=B") as b:
        recv_type(a, "init")
        recv_type(b, "init")
        assert diagnostics_until(a, 0) == diagnostics_until(b, 0) == [
            {"type": "diagnostics", "version": 0, "items": []}]
        text = "x = 1\n"
        for version, added in enumerate(["import os\n", "print(", "nope)\n"]):
            push(a, version, insert(len(text), len(text), added))
            text += added
        seen_a, seen_b = diagnostics_until(a, 3), diagnostics_until(b, 3)
        assert seen_a == seen_b
        versions = [frame["version"] for frame in seen_a]
        assert versions == sorted(set(versions))  # each version at most once, in order
        assert [(i["from"], i["to"], i["severity"], i["source"]) for i in seen_a[-1]["items"]] \
            == [(13, 15, "warning", "pyflakes"), (22, 26, "error", "pyflakes")]
        analysed = fake_completer(client).analysed
        assert len(analysed) == len(set(analysed))  # no version analysed twice
        assert analysed[-1] == text

        # A late joiner gets the current diagnostics right after init, and nothing is
        # analysed again for it.
        count = len(analysed)
        with client.websocket_connect(f"/ws/{room_id}/c?name=C") as c:
            assert c.receive_json()["type"] == "init"
            assert c.receive_json() == seen_a[-1]
        assert len(analysed) == count


def test_signature_hover_definition_answer_with_id_and_version(client: TestClient) -> None:
    room_id = new_room(client, "f(1, 2")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        recv_type(a, "init")
        a.send_json({"type": "signature", "id": "s1", "version": 0, "position": 6})
        answer = recv_type(a, "signatures")
        assert answer == {"type": "signatures", "id": "s1", "version": 0, "signatures": [{
            "label": "f(a, b)", "parameters": [{"label": "a", "documentation": None},
                                               {"label": "b", "documentation": "second"}],
            "activeParameter": 1, "documentation": "Doc."}]}
        a.send_json({"type": "hover", "id": "h1", "version": 0, "position": 1})
        assert recv_type(a, "hover_info") == {"type": "hover_info", "id": "h1", "version": 0,
                                              "from": 0, "to": 1, "contents": "at 1"}
        a.send_json({"type": "hover", "id": "h2", "version": 0, "position": 0})
        assert recv_type(a, "hover_info") == {"type": "hover_info", "id": "h2", "version": 0,
                                              "contents": None}
        a.send_json({"type": "definition", "id": "d1", "version": 0, "position": 3})
        assert recv_type(a, "definition_location") == {
            "type": "definition_location", "id": "d1", "version": 0,
            "definition": {"from": 0, "to": 1}}
        # A position at an older version is mapped to the published one.
        push(a, 0, insert(6, 0, "# \N{GRINNING FACE}\n"))
        recv_type(a, "code_update")
        a.send_json({"type": "hover", "id": "h3", "version": 0, "position": 1})
        assert recv_type(a, "hover_info")["from"] == 5


def test_bad_language_requests_get_invalid_message(client: TestClient) -> None:
    room_id = new_room(client, "\N{GRINNING FACE}")
    with client.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        recv_type(a, "init")
        for kind in ("signature", "hover", "definition"):
            a.send_json({"type": kind, "id": f"{kind}-1", "version": 0})
            error = recv_type(a, "error")
            assert (error["code"], error["id"]) == ("invalid_message", f"{kind}-1")
            a.send_json({"type": kind, "id": f"{kind}-2", "version": 0, "position": 1})
            error = recv_type(a, "error")  # between the halves of the emoji
            assert (error["code"], error["id"]) == ("invalid_message", f"{kind}-2")
            a.send_json({"type": kind, "id": f"{kind}-3", "version": 0, "position": 9})
            error = recv_type(a, "error")  # past the end
            assert (error["code"], error["id"]) == ("invalid_message", f"{kind}-3")
        a.send_json({"type": "ping"})
        recv_type(a, "pong")
