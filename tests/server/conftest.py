"""In-process ASGI tests: Starlette's TestClient as a context manager, so the lifespan runs
(Starlette's own test style). The store is real; execution and completion are fake twins here
(tests/server/fakes.py) unless a test asks for the real services (`real_services=True`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from server.config import Settings
from tests.server.fakes import FakeCompleter, FakeRunner
from tests.support.postgres_server import PostgresServer, postgres_server

ADMIN = {"Authorization": "Bearer test-token"}

ClientFactory = Callable[..., TestClient]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL for the session; `postgres.new_database()` per test. Skips
    (fails under CI=true) when PostgreSQL is not installed."""
    with postgres_server() as server:
        yield server


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[ClientFactory]:
    """Factory: `make_client(max_participants=2)` → a started TestClient on a fresh database."""
    with ExitStack() as stack:
        counter = iter(range(1000))

        def factory(real_services: bool = False, **overrides: Any) -> TestClient:
            settings = replace(Settings(db=str(tmp_path / f"db{next(counter)}.sqlite"),
                                        admin_token="test-token"), **overrides)
            app = (create_app(settings) if real_services
                   else create_app(settings, execution=FakeRunner(), completion=FakeCompleter()))
            return stack.enter_context(TestClient(app))

        yield factory


@pytest.fixture
def client(make_client: ClientFactory) -> TestClient:
    return make_client()


def new_room(client: TestClient, code: str = "", name: str | None = None) -> str:
    body: dict[str, Any] = {"code": code}
    if name is not None:
        body["name"] = name
    response = client.post("/rooms", json=body)
    assert response.status_code == 201, response.text
    room_id: str = response.json()["roomId"]
    return room_id
