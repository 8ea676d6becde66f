"""Fixtures of the tests that run a cluster (tests/cluster, tests/browser/test_cluster.py):
real Redis, PostgreSQL and nginx processes on free 127.0.0.1 ports (the launchers beside this
module, over scripts/cluster_lib/), and Pairpad processes on them. A missing program skips
these tests with the reason, or fails them under CI=true.

Both conftests import the fixtures by name (`from tests.support.cluster_fixtures import …`);
not `pytest_plugins`, which pytest refuses in a conftest below the root dir.

Redis and PostgreSQL are started once per session; `redis` hands each test a running, empty
Redis even when an earlier test killed it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support.cluster_process import launch_member
from tests.support.live_server import LiveServer
from tests.support.nginx import NginxProxy, nginx
from tests.support.postgres_server import PostgresServer, postgres_server
from tests.support.redis_server import RedisServer, redis_server

__all__ = ["MemberFactory", "NginxFactory", "member_factory", "nginx_factory", "postgres",
           "redis", "redis_session"]


@pytest.fixture(scope="session")
def redis_session() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture
def redis(redis_session: RedisServer) -> RedisServer:
    """The session's Redis, running and empty (restarted if a test killed it)."""
    if not redis_session.running:
        redis_session.restart()
    assert redis_session.command("FLUSHALL") == b"+OK"
    return redis_session


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


NginxFactory = Callable[[Sequence[int]], NginxProxy]


@pytest.fixture
def nginx_factory() -> Iterator[NginxFactory]:
    """`nginx_factory([port, ...])` starts nginx round-robin over those 127.0.0.1 ports;
    every one started is stopped when the test ends."""
    with ExitStack() as stack:
        yield lambda ports: stack.enter_context(nginx(ports))


MemberFactory = Callable[..., LiveServer]


@pytest.fixture
def member_factory(tmp_path: Path, postgres: PostgresServer,
                   redis: RedisServer) -> Iterator[MemberFactory]:
    """`member_factory(port=, env=, args=, module=)` starts one more Pairpad process on the
    session's PostgreSQL and this test's Redis (log `member-<n>.log` in tmp_path); every one
    still running is stopped with SIGTERM when the test ends."""
    members: list[LiveServer] = []

    def start(*, port: int | None = None, env: dict[str, str] | None = None,
              args: tuple[str, ...] = (), module: str = "server") -> LiveServer:
        log = tmp_path / f"member-{len(members) + 1}.log"
        member = launch_member(postgres.url, redis.url, log, port=port, env=env, args=args,
                               module=module)
        members.append(member)
        return member

    try:
        yield start
    finally:
        for member in members:
            member.stop()
