"""The cluster tests' fixtures live in tests/support/cluster_fixtures.py (shared with the
browser test through nginx); pytest finds them here because this module imports them.
A missing program skips these tests with the reason, or fails them under CI=true."""

from __future__ import annotations

import pytest

from tests.support.cluster_fixtures import (
    member_factory,
    nginx_factory,
    postgres,
    redis,
    redis_session,
)

__all__ = ["member_factory", "nginx_factory", "postgres", "redis", "redis_session"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/cluster" in str(item.path):
            item.add_marker(pytest.mark.cluster)
