"""A real `redis-server` for the cluster tests, on a free 127.0.0.1 port in its own temp dir.

    with redis_server() as redis:
        redis.url        # redis://127.0.0.1:<port>/0
        redis.kill()     # SIGKILL, as a crash would; clients see the connection drop
        redis.restart()  # kill if running, then start empty on the same port

The start/stop code is `scripts.cluster_lib.redis_server`, shared with `scripts/cluster`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from scripts.cluster_lib.redis_server import RedisServer, ping, redis_binary, running_redis
from tests.support.required_tool import missing

__all__ = ["RedisServer", "ping", "redis_server"]


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """Skips (fails under CI=true) when redis-server is not installed."""
    if redis_binary() is None:
        missing("redis-server", "redis-server")
    with running_redis() as server:
        yield server
