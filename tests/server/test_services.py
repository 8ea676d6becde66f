"""`POST /execute` and `POST /autocomplete` end to end through the app, with the real sandbox
and the real Jedi worker (one app for the module: they take a moment to start)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from server.config import Settings
from tests.server.conftest import ClientFactory
from tests.server.test_rooms import error_code


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    db = tmp_path_factory.mktemp("real") / "real.sqlite"
    settings = Settings(db=str(db), max_code_length=5000, run_timeout_seconds=5)
    with TestClient(create_app(settings)) as client:
        completion = client.app.state.hub.services.completion  # type: ignore[attr-defined]
        assert client.portal.call(completion.wait_ready)  # type: ignore[union-attr]
        yield client


def test_execute_runs_code_in_the_sandbox(real: TestClient) -> None:
    response = real.post("/execute", json={"code": "print(input() * 2)", "stdin": "ab\n"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "output", "stdout", "stderr", "exitCode", "durationMs",
                         "truncated", "reason", "limit"}
    # The line input() read is echoed before what the program printed.
    assert (body["status"], body["stdout"], body["truncated"]) == ("ok", "ab\nabab\n", False)
    assert (body["reason"], body["limit"]) == (None, None)


def test_execute_reports_the_users_traceback(real: TestClient) -> None:
    body = real.post("/execute", json={"code": "x = 1\nraise ValueError('boom')"}).json()
    assert (body["status"], body["reason"], body["limit"]) == ("error", "exception", None)
    assert "ValueError: boom" in body["stderr"]
    assert "line 2" in body["stderr"]
    assert "/work" not in body["stderr"]
    assert "server" not in body["stderr"]


def test_execute_refuses_escapes(real: TestClient) -> None:
    body = real.post("/execute", json={"code": "import os\nprint(os.listdir('/'))"}).json()
    assert body["status"] == "error"
    assert "bin" not in body["stdout"]


def test_execute_bad_input(real: TestClient) -> None:
    assert error_code(real.post("/execute", json={"code": "1", "language": "js"})) \
        == "unsupported_language"
    assert real.post("/execute", json={"code": "x" * 5001}).status_code == 413
    assert real.post("/execute", json={"stdin": ""}).status_code == 422


def test_execute_busy_is_429_with_retry_after(make_client: ClientFactory) -> None:
    client = make_client()
    runner = client.app.state.hub.services.execution  # type: ignore[attr-defined]
    runner.busy = True
    response = client.post("/execute", json={"code": "print(1)"})
    assert response.status_code == 429
    assert error_code(response) == "busy"
    assert response.headers["retry-after"] == "2"


def test_autocomplete_offers_jedi_completions(real: TestClient) -> None:
    code = "import math\nmath.sq"
    body = real.post("/autocomplete", json={"code": code, "cursorPosition": len(code),
                                            "language": "python"}).json()
    assert body["from"] == len(code) - 2
    labels = [s["label"] for s in body["suggestions"]]
    assert "sqrt" in labels
    sqrt = next(s for s in body["suggestions"] if s["label"] == "sqrt")
    assert (sqrt["kind"], sqrt["source"]) == ("function", "jedi")
    assert body["symbols"]["imports"] == ["math"]


def test_autocomplete_counts_utf16_units(real: TestClient) -> None:
    code = "s = '😀'\nimport math\nmath.fl"
    units = len(code.encode("utf-16-le")) // 2
    body = real.post("/autocomplete", json={"code": code, "cursorPosition": units,
                                            "language": "python"}).json()
    assert body["from"] == units - 2
    assert "floor" in [s["label"] for s in body["suggestions"]]


def test_autocomplete_bad_input(real: TestClient) -> None:
    def ask(**body: object) -> int:
        return real.post("/autocomplete", json={"language": "python", **body}).status_code

    assert ask(code="abc", cursorPosition=-1) == 422
    assert ask(code="abc", cursorPosition=1, cursor=1) == 422  # not a field of the request
    assert ask(code="x" * 5001, cursorPosition=0) == 413
    response = real.post("/autocomplete", json={"code": "", "cursorPosition": 0,
                                                "language": "ruby"})
    assert error_code(response) == "unsupported_language"


def test_autocomplete_refuses_a_cursor_outside_the_code_or_inside_a_pair(
        real: TestClient) -> None:
    # docs/protocol.md "REST": outside 0..len(code) or splitting a surrogate pair is 422.
    def refused(code: str, position: int) -> list[Any]:
        response = real.post("/autocomplete", json={"code": code, "cursorPosition": position,
                                                    "language": "python"})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "validation_error"
        loc: list[Any] = response.json()["error"]["details"][0]["loc"]
        return loc

    assert refused("import math\nmath.sq", 99) == ["cursorPosition"]
    assert refused("xy😀", 3) == ["cursorPosition"]
    edge = real.post("/autocomplete", json={"code": "xy😀", "cursorPosition": 4,
                                            "language": "python"})
    assert edge.status_code == 200, edge.text  # the end itself is a place


def test_room_run_with_the_real_sandbox(real: TestClient, tmp_path: Path) -> None:
    room = real.post("/rooms", json={"code": "for i in range(3):\n    print(i)\n"}).json()
    with real.websocket_connect(f"/ws/{room['roomId']}/a?name=A") as ws:
        assert ws.receive_json()["type"] == "init"
        ws.send_json({"type": "run"})
        frames: list[dict[str, Any]] = []
        while not frames or frames[-1]["type"] != "execution_result":
            frames.append(ws.receive_json())
        streamed = "".join(f["data"] for f in frames if f["type"] == "execution_output")
        assert streamed == "0\n1\n2\n"
        assert frames[-1]["status"] == "ok"
        assert frames[-1]["output"] == "0\n1\n2\n"
