"""The cluster fixtures themselves: Redis answers and comes back empty after a kill,
PostgreSQL takes the role's password over TCP, nginx alternates between two backends and
lets a WebSocket upgrade through."""

from __future__ import annotations

import functools
import itertools
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from scripts.cluster_lib.nginx_proxy import render_conf
from scripts.cluster_lib.process import accepts_connections, free_port, stop, wait_until
from tests.support.cluster_fixtures import MemberFactory, NginxFactory
from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import RedisServer, ping


def test_redis_answers_and_restarts_empty_on_the_same_port(redis: RedisServer) -> None:
    assert redis.url == f"redis://127.0.0.1:{redis.port}/0"
    assert ping(redis.port)
    assert redis.command("SET", "room:1", "owner-a") == b"+OK"
    assert redis.command("DBSIZE") == b":1"

    redis.kill()
    assert not redis.running
    assert not ping(redis.port)

    redis.restart()
    assert redis.running
    assert redis.command("DBSIZE") == b":0"




def psql(pg: PostgresServer, url: str, sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(pg.bin_dir / "psql"), url, "-tA", "-c", sql],
                          capture_output=True, text=True, timeout=30, check=False)


def test_postgres_takes_the_role_password_over_tcp(postgres: PostgresServer) -> None:
    result = psql(postgres, postgres.url, "select current_user || ' ' || current_database()")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pairpad pairpad"

    wrong = postgres.url.replace(postgres.password, "not-the-password")
    result = psql(postgres, wrong, "select 1")
    assert result.returncode != 0
    assert "password authentication failed" in result.stderr


@pytest.fixture
def two_http_servers(tmp_path: Path) -> Iterator[list[int]]:
    """Two `python -m http.server` backends; each serves /who.txt with its own name."""
    procs: list[subprocess.Popen[bytes]] = []
    ports = []
    try:
        for name in ("a", "b"):
            root = tmp_path / name
            root.mkdir()
            (root / "who.txt").write_text(name)
            port = free_port()
            proc = subprocess.Popen(
                [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                 "--directory", str(root)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            procs.append(proc)
            wait_until(functools.partial(accepts_connections, port), proc,
                       f"http.server {name}", 15)
            ports.append(port)
        yield ports
    finally:
        for proc in procs:
            stop(proc, timeout=10)


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def test_nginx_alternates_between_backends(two_http_servers: list[int],
                                           nginx_factory: NginxFactory) -> None:
    proxy = nginx_factory(two_http_servers)
    answers = [get(proxy.url + "/who.txt") for _ in range(6)]
    assert sorted(answers) == ["a", "a", "a", "b", "b", "b"]
    assert all(x != y for x, y in itertools.pairwise(answers)), answers


def test_nginx_answers_502_when_no_backend_listens(nginx_factory: NginxFactory) -> None:
    proxy = nginx_factory([free_port()])
    with pytest.raises(urllib.error.HTTPError) as failure:
        get(proxy.url + "/")
    assert failure.value.code == 502
    failure.value.close()


async def test_nginx_passes_a_websocket_upgrade(nginx_factory: NginxFactory) -> None:
    async def echo(websocket: ServerConnection) -> None:
        async for message in websocket:
            await websocket.send(message)

    port = free_port()
    async with serve(echo, "127.0.0.1", port):
        proxy = nginx_factory([port])
        async with connect(proxy.ws_url + "/ws", open_timeout=10) as websocket:
            for text in ("hello", "é" * 1000):
                await websocket.send(text)
                assert await websocket.recv() == text


def test_nginx_conf_keeps_idle_websockets_and_stays_in_its_prefix(tmp_path: Path) -> None:
    conf = render_conf(tmp_path, 8000, [9001, 9002])
    assert "proxy_read_timeout 1h;" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "server 127.0.0.1:9001;" in conf
    assert "server 127.0.0.1:9002;" in conf
    assert "listen 127.0.0.1:8000;" in conf
    paths = [line.split()[1].rstrip(";") for line in conf.splitlines()
             if line.strip().startswith(("pid ", "error_log ", "access_log "))
             or "_temp_path " in line]
    assert len(paths) == 8
    assert all(path.startswith(str(tmp_path)) for path in paths), paths


def test_member_factory_starts_members_on_the_shared_urls(
        member_factory: MemberFactory, postgres: PostgresServer, redis: RedisServer) -> None:
    # The stand-in takes the same arguments as the real server; the real one joins these
    # tests when it has --redis.
    a = member_factory(module="tests.cluster.stand_in_server")
    b = member_factory(module="tests.cluster.stand_in_server")
    assert get(a.url + "/whoami") == str(a.port)
    assert get(b.url + "/whoami") == str(b.port)
    assert f"db={postgres.url} redis={redis.url}" in a.log_text()
    assert b.stop() == 0
