"""REST rooms, errors and operations endpoints against docs/protocol.md "REST"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from server.app import DIST
from server.models import ROOM_NAME_MAX
from tests.server.conftest import ADMIN, ClientFactory, new_room


def error_code(response: object) -> str:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    code: str = body["error"]["code"]
    return code


def test_create_room_returns_the_contract_shape(client: TestClient) -> None:
    response = client.post("/rooms", json={"name": "Kata", "code": "a = 1\r\nb = 2\rc = 3"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"roomId", "name", "language", "code", "version", "createdAt"}
    assert body["name"] == "Kata"
    assert body["language"] == "python"
    assert body["code"] == "a = 1\nb = 2\nc = 3"  # CR LF and lone CR normalized
    assert body["version"] == 0
    assert body["createdAt"].endswith("Z")
    assert len(body["roomId"]) >= 16  # at least 96 bits, URL-safe


def test_room_ids_are_unguessable_and_distinct(client: TestClient) -> None:
    ids = {new_room(client) for _ in range(20)}
    assert len(ids) == 20
    assert all(len(i) >= 16 and all(c.isalnum() or c in "-_" for c in i) for i in ids)


def test_empty_body_creates_a_default_room(client: TestClient) -> None:
    response = client.post("/rooms", content=b"")
    assert response.status_code == 201
    assert response.json()["code"] == ""


@pytest.mark.parametrize("name", ["   ", "a\x00b", "two\nlines", "tab\there", "\u200b", "x\u202ey",
                                  "a\u2028b"])
def test_a_room_name_without_text_or_with_control_characters_is_422(client: TestClient,
                                                                      name: str) -> None:
    response = client.post("/rooms", json={"name": name})
    assert response.status_code == 422
    assert error_code(response) == "validation_error"
    assert response.json()["error"]["details"][0]["loc"][-1] == "name"


def test_the_web_form_allows_the_room_names_the_server_does() -> None:
    landing = (DIST.parent / "src" / "landing.js").read_text()
    assert f"ROOM_NAME_MAX = {ROOM_NAME_MAX};" in landing


def test_get_room_returns_state(client: TestClient) -> None:
    room_id = new_room(client, "print('hi')\n", name="R")
    body = client.get(f"/rooms/{room_id}").json()
    assert body["roomId"] == room_id
    assert body["code"] == "print('hi')\n"
    assert body["version"] == 0
    assert body["participants"] == []
    assert body["lock"] is None
    assert body["lastRun"] is None
    assert {"createdAt", "updatedAt", "name", "language"} <= set(body)


def test_unknown_room_is_404(client: TestClient) -> None:
    response = client.get("/rooms/doesnotexist")
    assert response.status_code == 404
    assert error_code(response) == "room_not_found"


def test_malformed_json_is_400(client: TestClient) -> None:
    response = client.post("/rooms", content=b"{not json",
                           headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert error_code(response) == "invalid_json"


def test_schema_violation_is_422_with_details(client: TestClient) -> None:
    response = client.post("/rooms", json={"code": 5})
    assert response.status_code == 422
    assert error_code(response) == "validation_error"
    details = response.json()["error"]["details"]
    assert details[0]["loc"] == ["code"]


def test_non_object_body_is_422(client: TestClient) -> None:
    response = client.post("/rooms", json=[1, 2])
    assert response.status_code == 422
    assert error_code(response) == "validation_error"


def test_other_language_is_unsupported(client: TestClient) -> None:
    response = client.post("/rooms", json={"language": "ruby"})
    assert response.status_code == 422
    assert error_code(response) == "unsupported_language"


def test_code_over_document_limit_is_413(make_client: ClientFactory) -> None:
    client = make_client(max_document_length=10)
    response = client.post("/rooms", json={"code": "x" * 11})
    assert response.status_code == 413
    assert error_code(response) == "too_large"


def test_body_limit_is_enforced_while_reading(make_client: ClientFactory) -> None:
    client = make_client(max_request_bytes=1000)
    sent = []

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count as it reads
        for _ in range(100):
            sent.append(1)
            yield b"x" * 100

    response = client.post("/rooms", content=chunks())
    assert response.status_code == 413
    assert error_code(response) == "too_large"
    declared = client.post("/rooms", content=b"x" * 2000)
    assert declared.status_code == 413


def test_room_limit_answers_busy_with_retry_after(make_client: ClientFactory) -> None:
    client = make_client(max_rooms=2)
    new_room(client)
    new_room(client)
    response = client.post("/rooms", json={})
    assert response.status_code == 429
    assert error_code(response) == "busy"
    assert int(response.headers["retry-after"]) >= 1


def test_unknown_route_uses_the_error_envelope(client: TestClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert error_code(response) == "not_found"


def test_health(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["roomsLoaded"] == 0


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    new_room(client)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "pairpad_rooms_created_total 1.0" in response.text
    assert "pairpad_http_request_duration_seconds_bucket" in response.text


def test_openapi_describes_every_rest_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) >= {"/rooms", "/rooms/{roomId}", "/autocomplete", "/execute",
                                  "/admin/rooms", "/admin/rooms/{roomId}", "/health",
                                  "/metrics"}
    create = spec["paths"]["/rooms"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(schema["properties"]) == {"name", "language", "code"}
    autocomplete = spec["components"]["schemas"]["AutocompleteRequest"]
    assert "cursorPosition" in autocomplete["properties"]


def test_admin_requires_the_token(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        response = client.get("/admin/rooms", headers=headers)
        assert response.status_code == 401
        assert error_code(response) == "unauthorized"
    assert client.delete("/admin/rooms/x").status_code == 401


def test_admin_lists_most_recently_active_first_with_paging(client: TestClient) -> None:
    first = new_room(client, name="first")
    second = new_room(client, name="second")
    body = client.get("/admin/rooms", headers=ADMIN).json()
    assert body["total"] == 2
    assert [r["roomId"] for r in body["rooms"]] == [second, first]
    room = body["rooms"][0]
    assert set(room) == {"roomId", "name", "language", "version", "participantCount",
                         "codeLength", "locked", "createdAt", "updatedAt"}
    page = client.get("/admin/rooms?limit=1&offset=1", headers=ADMIN).json()
    assert [r["roomId"] for r in page["rooms"]] == [first]
    assert page["total"] == 2
    assert client.get("/admin/rooms?limit=501", headers=ADMIN).status_code == 422
    assert client.get("/admin/rooms?offset=-1", headers=ADMIN).status_code == 422
    not_a_number = client.get("/admin/rooms?limit=abc", headers=ADMIN)
    assert not_a_number.status_code == 422
    assert "integer" in not_a_number.json()["error"]["message"]
    assert not_a_number.json()["error"]["details"][0]["loc"] == ["query", "limit"]
    assert client.get(f"/admin/rooms?offset={2**64}", headers=ADMIN).status_code == 422


@pytest.mark.parametrize(("path", "body"), [
    ("/rooms", {"name": "x", "nmae": "typo"}),
    ("/autocomplete", {"code": "", "cursorPosition": 0, "language": "python", "cursor": 0}),
    ("/execute", {"code": "1", "timeout": 5}),
])
def test_unknown_body_fields_are_refused(client: TestClient, path: str,
                                         body: dict[str, object]) -> None:
    # docs/protocol.md "Unknown fields": the same rule as WebSocket messages.
    response = client.post(path, json=body)
    assert response.status_code == 422
    assert error_code(response) == "validation_error"
    assert [d["type"] for d in response.json()["error"]["details"]] == ["extra_forbidden"]


def test_lone_surrogates_are_refused(client: TestClient) -> None:
    response = client.post("/rooms", content=b'{"code": "a\\ud800"}',
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert error_code(response) == "validation_error"


def test_a_405_lists_every_method_of_the_path(client: TestClient) -> None:
    response = client.put("/admin/rooms/x", headers=ADMIN)
    assert response.status_code == 405
    assert error_code(response) == "method_not_allowed"
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "DELETE"}
    assert client.head(f"/rooms/{new_room(client)}").status_code == 200


def test_openapi_says_what_the_server_accepts(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for name in ("CreateRoomRequest", "AutocompleteRequest", "ExecuteRequest"):
        assert schemas[name]["additionalProperties"] is False
        assert schemas[name]["properties"]["language"]["enum"] == ["python"]
    # POST /rooms takes no body at all (an empty body reads as {}); the others need one.
    assert spec["paths"]["/rooms"]["post"]["requestBody"]["required"] is False
    assert spec["paths"]["/autocomplete"]["post"]["requestBody"]["required"] is True
    assert client.post("/rooms").status_code == 201
    assert set(spec["paths"]["/admin/rooms/{roomId}"]) == {"get", "delete"}
    limit = next(p for p in spec["paths"]["/admin/rooms"]["get"]["parameters"]
                 if p["name"] == "limit")
    assert limit["schema"] == {"type": "integer", "minimum": 0, "maximum": 500, "default": 50}


def test_admin_room_detail_and_delete(client: TestClient) -> None:
    room_id = new_room(client, "x = 1\n")
    detail = client.get(f"/admin/rooms/{room_id}", headers=ADMIN).json()
    assert detail["code"] == "x = 1\n"
    assert detail["codeLength"] == 6
    assert detail["connections"] == []
    assert detail["recentExecutions"] == []
    assert client.delete(f"/admin/rooms/{room_id}", headers=ADMIN).status_code == 204
    assert client.get(f"/rooms/{room_id}").status_code == 404
    assert client.delete(f"/admin/rooms/{room_id}", headers=ADMIN).status_code == 404


def test_cors_allows_the_configured_origins(make_client: ClientFactory) -> None:
    client = make_client(cors_origins="https://pair.example, https://other.example")
    preflight = client.options("/rooms", headers={
        "Origin": "https://pair.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://pair.example"
    denied = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in denied.headers


def test_no_cors_headers_without_configured_origins(client: TestClient) -> None:
    response = client.get("/health", headers={"Origin": "https://pair.example"})
    assert "access-control-allow-origin" not in response.headers


def test_editor_pages_and_assets_are_served(client: TestClient) -> None:
    if not (DIST / "index.html").is_file():
        pytest.skip("the editor is not built (scripts/build_editor builds it)")
    for path in ("/", "/r/someroom"):
        page = client.get(path)
        assert page.status_code == 200
        assert "/assets/app.js" in page.text
    script = client.get("/assets/app.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert client.get("/assets/nope.js").status_code == 404


def test_autocomplete_deadline_is_passed_to_the_engine(client: TestClient) -> None:
    completer = client.app.state.hub.services.completion  # type: ignore[attr-defined]
    ask = {"code": "ab", "cursorPosition": 2, "language": "python"}
    assert client.post("/autocomplete", json=ask).json()["incomplete"] is False
    assert client.post("/autocomplete", json={**ask, "deadlineMs": 0}).status_code == 200
    assert client.post("/autocomplete", json={**ask, "deadlineMs": 30000}).status_code == 200
    assert completer.deadlines == [2.0, 0.0, 30.0]  # docs/protocol.md: default 2000 ms
    too_long = client.post("/autocomplete", json={**ask, "deadlineMs": 30001})
    assert too_long.status_code == 422
    assert error_code(too_long) == "validation_error"
