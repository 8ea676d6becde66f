"""The real thing: `python -m server` as a process, on a free loopback port."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websockets

from editor_core.close_codes import CloseCode
from tests.support.live_server import REPO, free_port, launch, live_server

pytestmark = pytest.mark.live


def post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


def get_json(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


def test_room_survives_a_restart(tmp_path: Path) -> None:
    server = launch(tmp_path / "p.db", tmp_path / "p.log")
    try:
        room = post_json(server.url + "/rooms", {"name": "keep", "code": "print(42)\n"})
        assert server.stop() == 0
        server = launch(server.db, server.log, port=server.port)
        state = get_json(f"{server.url}/rooms/{room['roomId']}")
        assert (state["name"], state["code"], state["version"]) == ("keep", "print(42)\n", 0)
    finally:
        server.stop()


def test_sigterm_closes_websockets_with_1001_and_exits_0(tmp_path: Path) -> None:
    with live_server(tmp_path) as server:
        room = post_json(server.url + "/rooms", {"code": ""})

        async def scenario() -> int | None:
            uri = f"{server.ws_url}/ws/{room['roomId']}/c1?name=T"
            async with asyncio.timeout(20), websockets.connect(uri) as ws:
                init = json.loads(await ws.recv())
                assert init["type"] == "init"
                await ws.send(json.dumps({"type": "code_update", "version": 0,
                                          "updates": [{"changes": [[0, "kept"]]}]}))
                assert json.loads(await ws.recv())["type"] == "code_update"
                server.proc.send_signal(signal.SIGTERM)
                async for _ in ws:  # drain until the server closes the socket
                    pass
                return ws.close_code

        assert asyncio.run(scenario()) == CloseCode.GOING_AWAY
        assert server.proc.wait(timeout=20) == 0
        log = server.log_text()
        assert "event=server.stopped" in log
        assert "kept" not in log  # logs never carry the users' code
        restarted = launch(server.db, server.log, port=server.port)
        try:
            assert get_json(f"{restarted.url}/rooms/{room['roomId']}")["code"] == "kept"
        finally:
            restarted.stop()


def test_a_generated_admin_token_survives_a_restart_and_stays_out_of_the_log(
        tmp_path: Path) -> None:
    env = {"PAIRPAD_ADMIN_TOKEN": ""}  # empty counts as unset
    db, log = tmp_path / "p.db", tmp_path / "p.log"
    first = launch(db, log, env=env)
    try:
        token = first.log_text().split("shown only this once:", 1)[1].split()[0]
        listing = get_json(first.url + "/admin/rooms", {"Authorization": f"Bearer {token}"})
        assert listing == {"rooms": [], "total": 0}
    finally:
        assert first.stop() == 0
    restarted = launch(db, log, env=env)
    try:
        listing = get_json(restarted.url + "/admin/rooms", {"Authorization": f"Bearer {token}"})
        assert listing == {"rooms": [], "total": 0}
    finally:
        assert restarted.stop() == 0
    text = log.read_text()
    assert text.count(token) == 1  # the first start's notice on stderr, and nothing else
    assert "shown only this once" in text
    structured = [line for line in text.splitlines() if " pairpad" in line and "event=" in line]
    assert any("admin.token_generated" in line for line in structured)
    assert any("admin.token_stored" in line for line in structured)
    assert not [line for line in structured if token in line]
    for stored in tmp_path.glob("p.db*"):  # the database and its WAL: only the digest
        assert token.encode() not in stored.read_bytes()


def test_flag_wins_over_environment(tmp_path: Path) -> None:
    env = {"PAIRPAD_PORT": "1", "PAIRPAD_MAX_ROOMS": "1"}
    with live_server(tmp_path, env=env) as server:  # launch passes --port explicitly
        assert server.port != 1
        post_json(server.url + "/rooms", {})
        with pytest.raises(urllib.error.HTTPError) as busy:
            post_json(server.url + "/rooms", {})
        assert busy.value.code == 429
        assert busy.value.headers["Retry-After"]
        busy.value.close()


def test_help_documents_every_option() -> None:
    out = subprocess.run([sys.executable, "-m", "server", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    for option in ("--host", "--port", "--db", "--admin-token", "--cors-origins",
                   "--max-document-length", "--max-message-bytes", "--max-request-bytes",
                   "--max-participants", "--max-rooms", "--run-timeout-seconds",
                   "--run-memory-mb", "--run-output-bytes", "--run-queue", "--room-idle-days"):
        assert option in out
    assert "PAIRPAD_MAX_PARTICIPANTS" in out
    assert "default: 8000" in out.replace("\n", " ").replace("  ", " ")


def test_bad_environment_value_fails_clearly(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "server", "--db", str(tmp_path / "x.db")],
                            cwd=REPO, capture_output=True, text=True, timeout=60,
                            env={"PAIRPAD_PORT": "eighty", "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0
    assert "PAIRPAD_PORT" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--db", "postgresql://user:s3cret@127.0.0.1:{port}/db"],
     "cannot reach PostgreSQL at postgresql://user:***@127.0.0.1:{port}/db: "),
    (["--db", "x.db", "--redis", "redis://127.0.0.1:6379/0"], "--redis needs a PostgreSQL --db"),
])
def test_a_deployment_that_cannot_work_exits_at_once(args: list[str], message: str) -> None:
    port = str(free_port())
    result = subprocess.run([sys.executable, "-m", "server", "--port", "0",
                             *(a.replace("{port}", port) for a in args)],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line
    assert result.stderr.startswith(message.replace("{port}", port))
    assert "s3cret" not in result.stderr
