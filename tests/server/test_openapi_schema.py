"""Every REST response matches the schema that `GET /openapi.json` publishes for its route and
status, and every operation of that document is exercised here: a new route without a case
in this file fails `test_every_published_operation_is_exercised`.

The schemas are checked as published, and once more closed (no property beyond those
declared), so a key the server sends but the document does not name is caught too.
"""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from starlette.testclient import TestClient

from tests.server.conftest import ADMIN, ClientFactory, new_room
from tests.server.wsclient import insert, push, recv_type

DOCUMENT = "urn:pairpad:openapi"  # the base URI the document's own `#/...` refs resolve in


def _escape(token: str) -> str:
    """A JSON-pointer token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def _closed(schema: Any) -> Any:
    """`schema` with every object that lists its properties closed to any other."""
    if isinstance(schema, dict):
        out = {key: _closed(value) for key, value in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    return schema


class Contract:
    """The published document, and the operations that `check` has seen answered."""

    def __init__(self, spec: dict[str, Any], seen: set[tuple[str, str]]) -> None:
        self.spec = spec
        self.registry: Registry[Any] = Registry().with_resources([
            (DOCUMENT, DRAFT202012.create_resource(spec)),
            (DOCUMENT + ":closed", DRAFT202012.create_resource(_closed(spec))),
        ])
        self.seen = seen

    def check(self, response: httpx.Response, method: str, path: str) -> Any:
        """Validate `response` against what the document says `method path` answers with
        its status; return the JSON body (None when there is none)."""
        operation = self.spec["paths"][path][method]
        status = str(response.status_code)
        assert status in operation["responses"], (
            f"{method.upper()} {path} answered {status}, which the document does not publish")
        self.seen.add((path, method))
        content = operation["responses"][status].get("content")
        if content is None:
            assert response.content == b"", response.content
            return None
        [(media_type, _)] = content.items()
        assert response.headers["content-type"].split(";")[0] == media_type
        if media_type != "application/json":
            return response.text
        body = response.json()
        pointer = "/".join(["#", "paths", _escape(path), method, "responses", status, "content",
                            _escape(media_type), "schema"])
        for resource in (DOCUMENT, DOCUMENT + ":closed"):
            validator = Draft202012Validator({"$ref": resource + pointer},
                                             registry=self.registry)
            errors = [f"{list(e.absolute_path)}: {e.message}"
                      for e in validator.iter_errors(body)]
            assert not errors, (method, path, status, resource, errors, body)
        return body


@pytest.fixture(scope="module")
def seen() -> set[tuple[str, str]]:
    """(path, method) of every operation checked in this module."""
    return set()


@pytest.fixture
def checked(client: TestClient, seen: set[tuple[str, str]]) -> Contract:
    spec = client.get("/openapi.json").json()
    Draft202012Validator.check_schema({"$defs": spec["components"]["schemas"]})
    return Contract(spec, seen)


def test_rooms_and_their_state(client: TestClient, checked: Contract) -> None:
    created = checked.check(client.post("/rooms", json={"name": "kata", "code": "print:hi\n"}),
                            "post", "/rooms")
    room_id = created["roomId"]
    blocked = new_room(client, "block\n")
    with client.websocket_connect(f"/ws/{room_id}/a?name=Ann") as ann, \
            client.websocket_connect(f"/ws/{blocked}/b?name=Bob") as bob:
        recv_type(ann, "init")
        ann.send_json({"type": "cursor", "version": 0, "anchor": 1, "head": 2})
        ann.send_json({"type": "run"})
        recv_type(ann, "execution_result")
        recv_type(bob, "init")
        bob.send_json({"type": "run"})
        lock = recv_type(bob, "execution_lock")

        state = checked.check(client.get(f"/rooms/{room_id}"), "get", "/rooms/{roomId}")
        assert state["participants"]
        assert state["lastRun"] is not None
        locked = checked.check(client.get(f"/rooms/{blocked}"), "get", "/rooms/{roomId}")
        assert locked["lock"] is not None
        detail = checked.check(client.get(f"/admin/rooms/{room_id}", headers=ADMIN), "get",
                               "/admin/rooms/{roomId}")
        assert detail["connections"]
        assert detail["recentExecutions"]
        listed = checked.check(client.get("/admin/rooms?limit=10", headers=ADMIN), "get",
                               "/admin/rooms")
        assert listed["total"] == 2
        assert any(r["locked"] for r in listed["rooms"])

        bob.send_json({"type": "stop", "runId": lock["runId"]})
        recv_type(bob, "execution_result")
    checked.check(client.delete(f"/admin/rooms/{blocked}", headers=ADMIN), "delete",
                  "/admin/rooms/{roomId}")


def test_read_only_links(client: TestClient, checked: Contract) -> None:
    room_id = new_room(client, "x = 1\n")
    link = checked.check(client.post(f"/rooms/{room_id}/links", json={"role": "viewer"}),
                         "post", "/rooms/{roomId}/links")
    listed = checked.check(client.get(f"/rooms/{room_id}/links"), "get", "/rooms/{roomId}/links")
    assert [item["linkId"] for item in listed["links"]] == [link["linkId"]]
    with client.websocket_connect(f"/ws/view/{link['linkId']}/v?name=Val") as viewer:
        recv_type(viewer, "init")
        shared = checked.check(client.get(f"/links/{link['linkId']}"), "get", "/links/{linkId}")
        assert [p["role"] for p in shared["participants"]] == ["viewer"]
    checked.check(client.delete(f"/rooms/{room_id}/links/{link['linkId']}"), "delete",
                  "/rooms/{roomId}/links/{linkId}")
    gone = checked.check(client.get(f"/links/{link['linkId']}"), "get", "/links/{linkId}")
    assert gone["error"]["code"] == "link_revoked"
    for method, path, url in (
            ("post", "/rooms/{roomId}/links", "/rooms/nope/links"),
            ("get", "/rooms/{roomId}/links", "/rooms/nope/links"),
            ("delete", "/rooms/{roomId}/links/{linkId}", f"/rooms/{room_id}/links/nope"),
            ("get", "/links/{linkId}", "/links/nope")):
        kwargs: dict[str, Any] = {"json": {"role": "viewer"}} if method == "post" else {}
        answer = checked.check(client.request(method, url, **kwargs), method, path)
        assert answer["error"]["code"] in ("room_not_found", "link_not_found")
    bad = checked.check(client.post(f"/rooms/{room_id}/links", json={"role": "editor"}),
                        "post", "/rooms/{roomId}/links")
    assert bad["error"]["code"] == "validation_error"


def test_autocomplete_execute_health_metrics(client: TestClient, checked: Contract) -> None:
    answer = checked.check(client.post("/autocomplete", json={
        "code": "import math\nmath.sq", "cursorPosition": 19, "language": "python"}),
        "post", "/autocomplete")
    assert answer["suggestions"]
    result = checked.check(client.post("/execute", json={"code": "print:hi"}), "post",
                           "/execute")
    assert result["status"] == "ok"
    checked.check(client.get("/health"), "get", "/health")
    assert checked.check(client.get("/ready"), "get", "/ready") == {"status": "ready"}
    client.app.state.hub.services.completion.ready = False  # type: ignore[attr-defined]
    not_ready = client.get("/ready")
    assert not_ready.status_code == 503
    assert checked.check(not_ready, "get", "/ready") == {"status": "not_ready"}
    assert checked.check(client.get("/health"), "get", "/health")["completion"] == "warming"
    assert "pairpad_" in checked.check(client.get("/metrics"), "get", "/metrics")


def test_language_routes(client: TestClient, checked: Contract) -> None:
    def post(path: str, body: dict[str, Any], status: int = 200) -> Any:
        response = client.post(path, json={"language": "python", **body})
        assert response.status_code == status, response.text
        return checked.check(response, "post", path)

    found = post("/diagnostics", {"code": "import os\nprint(nope)\n"})
    assert [item["source"] for item in found["items"]] == ["pyflakes", "pyflakes"]
    assert post("/diagnostics", {"code": "broken"}, 429)["error"]["code"] == "busy"
    code = "f(1, 2"
    found = post("/signature", {"code": code, "cursorPosition": 6})
    assert found["signatures"][0]["activeParameter"] == 1
    assert post("/hover", {"code": code, "cursorPosition": 1}) == {
        "from": 0, "to": 1, "contents": "at 1"}
    assert post("/hover", {"code": code, "cursorPosition": 0}) == {"contents": None}
    assert post("/definition", {"code": code, "cursorPosition": 2}) == {"from": 0, "to": 1}
    assert post("/definition", {"code": code, "cursorPosition": 0}) == {
        "module": "os", "name": "getcwd"}
    # A cursor past the end or inside a surrogate pair is refused, as for /autocomplete.
    for path in ("/signature", "/hover", "/definition"):
        for bad in ({"code": code, "cursorPosition": 70}, {"code": "😀", "cursorPosition": 1}):
            assert post(path, bad, 422)["error"]["code"] == "validation_error"
    for path in ("/signature", "/hover", "/definition"):
        assert post(path, {"code": code}, 422)["error"]["code"] == "validation_error"
        assert post(path, {"code": code, "cursorPosition": 1, "cursor": 1}, 422)["error"][
            "code"] == "validation_error"
    assert post("/diagnostics", {"code": 1}, 422)["error"]["code"] == "validation_error"
    response = client.post("/diagnostics", json={"code": "x", "language": "ruby"})
    assert checked.check(response, "post", "/diagnostics")["error"]["code"] == (
        "unsupported_language")


def test_error_responses(make_client: ClientFactory, client: TestClient,
                         checked: Contract) -> None:
    def error(response: httpx.Response, method: str, path: str, status: int) -> str:
        assert response.status_code == status, response.text
        code: str = checked.check(response, method, path)["error"]["code"]
        return code

    assert error(client.get("/rooms/nope"), "get", "/rooms/{roomId}", 404) == "room_not_found"
    assert error(client.post("/rooms", content=b"{"), "post", "/rooms", 400) == "invalid_json"
    assert error(client.post("/rooms", json={"code": 1}), "post", "/rooms",
                 422) == "validation_error"
    assert error(client.post("/autocomplete", json={"code": "x", "cursorPosition": -1,
                                                    "language": "python"}),
                 "post", "/autocomplete", 422) == "validation_error"
    assert error(client.post("/execute", json={"code": "1", "language": "ruby"}), "post",
                 "/execute", 422) == "unsupported_language"
    assert error(client.get("/admin/rooms"), "get", "/admin/rooms", 401) == "unauthorized"
    assert error(client.get("/admin/rooms?limit=501", headers=ADMIN), "get", "/admin/rooms",
                 422) == "validation_error"
    assert error(client.get("/admin/rooms/nope", headers=ADMIN), "get",
                 "/admin/rooms/{roomId}", 404) == "room_not_found"
    assert error(client.delete("/admin/rooms/nope"), "delete", "/admin/rooms/{roomId}",
                 401) == "unauthorized"
    assert error(client.delete("/admin/rooms/nope", headers=ADMIN), "delete",
                 "/admin/rooms/{roomId}", 404) == "room_not_found"

    small = make_client(max_request_bytes=1000, max_rooms=1)
    new_room(small)
    assert error(small.post("/rooms", content=b"x" * 2000), "post", "/rooms",
                 413) == "too_large"
    assert error(small.post("/autocomplete", content=b"x" * 2000), "post", "/autocomplete",
                 413) == "too_large"
    assert error(small.post("/execute", content=b"x" * 2000), "post", "/execute",
                 413) == "too_large"
    assert error(small.post("/rooms", json={}), "post", "/rooms", 429) == "busy"
    small.app.state.hub.services.execution.busy = True  # type: ignore[attr-defined]
    assert error(small.post("/execute", json={"code": "1"}), "post", "/execute", 429) == "busy"


def test_history_routes(client: TestClient, checked: Contract) -> None:
    room_id = new_room(client, "a\n")
    with client.websocket_connect(f"/ws/{room_id}/a?name=Ann") as ann:
        recv_type(ann, "init")
        push(ann, 0, insert(2, 2, "b\n"))
        recv_type(ann, "code_update")
    page = checked.check(client.get(f"/rooms/{room_id}/history"), "get",
                         "/rooms/{roomId}/history")
    assert [e["author"] for e in page["entries"]] == ["Ann"]
    old = checked.check(client.get(f"/rooms/{room_id}/versions/0"), "get",
                        "/rooms/{roomId}/versions/{version}")
    assert old["code"] == "a\n"
    lines = checked.check(client.get(f"/rooms/{room_id}/blame"), "get",
                          "/rooms/{roomId}/blame")["lines"]
    assert [line["author"] for line in lines] == [None, "Ann", "Ann"]
    restored = checked.check(client.post(f"/rooms/{room_id}/restore", json={"version": 0}),
                             "post", "/rooms/{roomId}/restore")
    assert restored == {"version": 2, "restoredVersion": 0, "changed": True}

    def error(response: httpx.Response, method: str, path: str, status: int) -> str:
        assert response.status_code == status, response.text
        code: str = checked.check(response, method, path)["error"]["code"]
        return code

    assert error(client.get(f"/rooms/{room_id}/versions/9"), "get",
                 "/rooms/{roomId}/versions/{version}", 404) == "version_not_found"
    assert error(client.get("/rooms/nope/history"), "get", "/rooms/{roomId}/history",
                 404) == "room_not_found"
    assert error(client.get(f"/rooms/{room_id}/history?limit=501"), "get",
                 "/rooms/{roomId}/history", 422) == "validation_error"
    assert error(client.get("/rooms/nope/blame"), "get", "/rooms/{roomId}/blame",
                 404) == "room_not_found"
    assert error(client.post(f"/rooms/{room_id}/restore", json={"version": 9}), "post",
                 "/rooms/{roomId}/restore", 404) == "version_not_found"
    assert error(client.post(f"/rooms/{room_id}/restore", json={"version": "1"}), "post",
                 "/rooms/{roomId}/restore", 422) == "validation_error"


def test_every_published_operation_is_exercised(checked: Contract) -> None:
    # Runs last in this module (pytest keeps file order) and counts what the cases above
    # checked: run the whole file.
    published = {(path, method) for path, item in checked.spec["paths"].items()
                 for method in item}
    assert published - checked.seen == set(), "operations without a case in this file"
