"""Room runs and completions over the WebSocket (docs/protocol.md "Presence, runs,
completions"), with fake services so the test decides when a run ends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from server.config import Settings
from tests.server.conftest import new_room
from tests.server.fakes import FakeCompleter, FakeRunner
from tests.server.wsclient import insert, push, recv_type


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner()


@pytest.fixture
def completer() -> FakeCompleter:
    return FakeCompleter()


@pytest.fixture
def faked(tmp_path: Path, runner: FakeRunner, completer: FakeCompleter) -> Iterator[TestClient]:
    settings = Settings(db=str(tmp_path / "runs.sqlite"), admin_token="t")
    with TestClient(create_app(settings, execution=runner, completion=completer)) as client:
        yield client


def test_run_locks_streams_and_releases(faked: TestClient, runner: FakeRunner) -> None:
    room_id = new_room(faked, "print:hello\nwarn:careful")
    with faked.websocket_connect(f"/ws/{room_id}/a?name=Ann") as a, \
            faked.websocket_connect(f"/ws/{room_id}/b?name=Bob") as b:
        recv_type(a, "init")
        recv_type(b, "init")
        a.send_json({"type": "run"})
        for ws in (a, b):
            lock = recv_type(ws, "execution_lock")
            assert (lock["clientId"], lock["name"], lock["version"]) == ("a", "Ann", 0)
            first = recv_type(ws, "execution_output")
            assert (first["stream"], first["data"]) == ("stdout", "hello\n")
            second = recv_type(ws, "execution_output")
            assert (second["stream"], second["data"]) == ("stderr", "careful\n")
            result = recv_type(ws, "execution_result")
            assert result["runId"] == lock["runId"]
            assert (result["status"], result["version"], result["name"]) == ("ok", 0, "Ann")
            assert result["finishedAt"].endswith("Z")
            assert result["startedAt"] == lock["since"]
            assert result["stoppedBy"] is None
    state = faked.get(f"/rooms/{room_id}").json()
    assert state["lock"] is None
    assert state["lastRun"]["runId"] == result["runId"]
    assert runner.codes == ["print:hello\nwarn:careful"]


def test_run_uses_the_document_as_received(faked: TestClient, runner: FakeRunner) -> None:
    room_id = new_room(faked, "")
    with faked.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        recv_type(a, "init")
        push(a, 0, insert(0, 0, "print:v1"))
        recv_type(a, "code_update")
        a.send_json({"type": "run"})
        assert recv_type(a, "execution_lock")["version"] == 1
        recv_type(a, "execution_result")
    assert runner.codes == ["print:v1"]


def test_second_run_is_refused_while_locked_and_stop_releases(faked: TestClient) -> None:
    room_id = new_room(faked, "print:partial\nblock")
    with faked.websocket_connect(f"/ws/{room_id}/a?name=A") as a, \
            faked.websocket_connect(f"/ws/{room_id}/b?name=B") as b:
        recv_type(a, "init")
        recv_type(b, "init")
        a.send_json({"type": "run"})
        lock = recv_type(b, "execution_lock")
        recv_type(b, "execution_output")
        b.send_json({"type": "run"})
        refused = recv_type(b, "error")
        assert refused["code"] == "room_locked"
        assert refused["lock"]["runId"] == lock["runId"]
        with faked.websocket_connect(f"/ws/{room_id}/late?name=Late") as late:
            init = recv_type(late, "init")
            assert init["lock"]["runId"] == lock["runId"]
            assert init["lock"]["output"] == "partial\n"  # a late joiner sees what all saw
        b.send_json({"type": "stop", "runId": "not-a-run"})
        assert recv_type(b, "error")["code"] == "unknown_run"
        b.send_json({"type": "stop", "runId": lock["runId"]})  # any participant may stop
        for ws in (a, b):  # everyone is told who stopped it
            result = recv_type(ws, "execution_result")
            assert (result["status"], result["stoppedBy"]) == ("stopped", "B")
    state = faked.get(f"/rooms/{room_id}").json()
    assert state["lock"] is None
    assert (state["lastRun"]["stoppedBy"], state["lastRun"]["startedAt"]) == ("B", lock["since"])
    detail = faked.get(f"/admin/rooms/{room_id}", headers={"Authorization": "Bearer t"}).json()
    assert detail["recentExecutions"][0]["stoppedBy"] == "B"


def test_stdin_reaches_the_run_and_oversize_stdin_is_refused(
        tmp_path: Path, runner: FakeRunner) -> None:
    settings = Settings(db=str(tmp_path / "s.sqlite"), run_stdin_bytes=8)
    with TestClient(create_app(settings, execution=runner, completion=FakeCompleter())) as c:
        room_id = new_room(c, "print:x")
        with c.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
            assert recv_type(a, "init")["limits"]["runStdinBytes"] == 8
            a.send_json({"type": "run", "stdin": "ééééé"})  # 10 bytes of UTF-8
            error = recv_type(a, "error")
            assert error["code"] == "invalid_message"
            assert error["message"] == "stdin is 10 bytes; at most 8 are allowed"
            assert error["details"][0]["loc"] == ["stdin"]
            a.send_json({"type": "run", "stdin": "éééé"})  # the lock was never taken
            recv_type(a, "execution_result")
        assert c.get(f"/rooms/{room_id}").json()["lock"] is None
    assert runner.stdins == ["éééé"]


def test_runner_disconnecting_does_not_end_the_run(faked: TestClient) -> None:
    room_id = new_room(faked, "print:x\nblock")
    with faked.websocket_connect(f"/ws/{room_id}/b?name=B") as b:
        recv_type(b, "init")
        with faked.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
            recv_type(a, "init")
            a.send_json({"type": "run"})
            lock = recv_type(a, "execution_lock")
        recv_type(b, "participant_left")
        b.send_json({"type": "stop", "runId": lock["runId"]})
        assert recv_type(b, "execution_result")["runId"] == lock["runId"]


def test_a_crashing_runner_still_releases_the_lock(faked: TestClient) -> None:
    room_id = new_room(faked, "crash")
    with faked.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        recv_type(a, "init")
        a.send_json({"type": "run"})
        assert recv_type(a, "execution_result")["status"] == "killed"
        a.send_json({"type": "run"})  # the lock is free again
        recv_type(a, "execution_lock")
        recv_type(a, "execution_result")


def test_full_run_queue_answers_busy(tmp_path: Path, runner: FakeRunner) -> None:
    settings = Settings(db=str(tmp_path / "b.sqlite"), run_concurrency=0, run_queue=0)
    with TestClient(create_app(settings, execution=runner, completion=FakeCompleter())) as c:
        room_id = new_room(c, "print:x")
        with c.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
            recv_type(a, "init")
            a.send_json({"type": "run"})
            error = recv_type(a, "error")
            assert error["code"] == "busy"
            assert error["retryAfterMs"] > 0
        assert c.get(f"/rooms/{room_id}").json()["lock"] is None


def test_runs_are_kept_for_admins(faked: TestClient) -> None:
    room_id = new_room(faked, "print:1")
    with faked.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        recv_type(a, "init")
        for _ in range(3):
            a.send_json({"type": "run"})
            recv_type(a, "execution_result")
    detail = faked.get(f"/admin/rooms/{room_id}", headers={"Authorization": "Bearer t"}).json()
    assert len(detail["recentExecutions"]) == 3
    assert detail["recentExecutions"][0]["output"] == "1\n"


def test_complete_maps_the_position_to_the_current_version(
        faked: TestClient, completer: FakeCompleter) -> None:
    room_id = new_room(faked, "abc")
    with faked.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        recv_type(a, "init")
        push(a, 0, insert(3, 0, "XY"))
        recv_type(a, "code_update")
        a.send_json({"type": "complete", "id": "c1", "version": 0, "position": 3})
        reply = recv_type(a, "completions")
        assert (reply["id"], reply["version"], reply["from"]) == ("c1", 1, 5)
        assert reply["items"] == [{"label": "XYabc", "kind": "variable", "source": "jedi"}]
        assert reply["incomplete"] is False
        a.send_json({"type": "complete", "id": "c2", "version": 1, "position": 9})
        error = recv_type(a, "error")
        assert (error["code"], error["id"]) == ("invalid_message", "c2")
    assert completer.requests[0] == ("XYabc", 5, f"{room_id}:a")


def test_superseded_completion_is_answered_empty(faked: TestClient) -> None:
    room_id = new_room(faked, "stale")
    with faked.websocket_connect(f"/ws/{room_id}/a?name=A") as a:
        recv_type(a, "init")
        a.send_json({"type": "complete", "id": "c1", "version": 0, "position": 5})
        reply = recv_type(a, "completions")
        assert (reply["id"], reply["items"], reply["incomplete"]) == ("c1", [], True)
