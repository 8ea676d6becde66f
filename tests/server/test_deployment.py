"""Choosing the store (--db: a SQLite file or a PostgreSQL URL), --redis, and the start-up
checks that refuse a deployment that cannot work, in one line."""

from __future__ import annotations

import re

import pytest

from server.cli import check_database
from server.config import Settings, mask_url, validate
from tests.server.conftest import ClientFactory, new_room
from tests.support.live_server import free_port
from tests.support.postgres_server import PostgresServer


@pytest.mark.parametrize(("url", "masked"), [
    ("postgresql://user:s3cr:et@127.0.0.1:5433/db", "postgresql://user:***@127.0.0.1:5433/db"),
    ("postgres://user@host/db", "postgres://user@host/db"),
    ("postgresql://u:p%40ss@h:1/d?sslmode=require&password=x",
     "postgresql://u:***@h:1/d?sslmode=require&password=***"),
    ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
    ("./pairpad.db", "./pairpad.db"),
])
def test_mask_url_hides_the_password(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(("db", "redis", "message"), [
    ("x.db", "redis://127.0.0.1:6379/0", "--redis needs a PostgreSQL --db: x.db"),
    ("mysql://u:p@h/db", "", "not a mysql:// URL: mysql://u:***@h/db"),
    ("postgresql://u@h/db", "http://h", "--redis takes a redis:// or rediss:// URL"),
])
def test_deployments_that_cannot_work_are_refused(db: str, redis: str, message: str) -> None:
    with pytest.raises(SystemExit, match=re.escape(message)):
        validate(Settings(db=db, redis=redis))


@pytest.mark.parametrize(("db", "redis"), [
    ("./pairpad.db", ""),
    ("postgresql://u:p@h:5432/db", "redis://h:6379/0"),
    ("postgres://u@h/db", "rediss://h/0"),
])
def test_deployments_that_can_work_pass(db: str, redis: str) -> None:
    validate(Settings(db=db, redis=redis))


def test_an_unreachable_postgresql_is_refused_with_the_password_masked() -> None:
    url = f"postgresql://user:s3cret@127.0.0.1:{free_port()}/db"
    with pytest.raises(SystemExit) as refused:
        check_database(Settings(db=url))
    message = str(refused.value.code)
    assert message.startswith(f"cannot reach PostgreSQL at {mask_url(url)}: ")
    assert "s3cret" not in message


def test_a_room_round_trips_through_the_app_on_postgresql(make_client: ClientFactory,
                                                          postgres: PostgresServer) -> None:
    url = postgres.new_database()
    check_database(Settings(db=url))  # reachable: no refusal
    client = make_client(db=url)
    room_id = new_room(client, code="print('hi')\n", name="pg")
    response = client.get(f"/rooms/{room_id}")
    assert response.status_code == 200, response.text
    assert response.json()["code"] == "print('hi')\n"
    # A second app on the same database (another process, in production) sees the room.
    other = make_client(db=url)
    assert other.get(f"/rooms/{room_id}").json()["code"] == "print('hi')\n"
