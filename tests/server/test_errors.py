"""The one translation table (docs/architecture.md "Seams"): every typed error has a REST status in
server/errors.py, and the domain's errors carry no transport details."""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Iterator

import editor_core
import server
from editor_core.errors import Busy, PairpadError, RetryLater, RoomFull, TooLarge
from server.errors import HTTP_STATUS, RateLimited, error_response, http_status, ws_error


def subclasses(cls: type[PairpadError]) -> Iterator[type[PairpadError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)


def import_everything() -> None:
    """A subclass exists only once its module is imported: import every module of both packages."""
    for package in (server, editor_core):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)


def test_every_error_class_has_a_status_in_the_table() -> None:
    import_everything()
    classes: set[type[PairpadError]] = {PairpadError, *subclasses(PairpadError)}
    assert len(classes) > 10
    assert sorted(c.__qualname__ for c in classes if c not in HTTP_STATUS) == []


def test_domain_errors_carry_codes_not_statuses() -> None:
    import_everything()
    for cls in {PairpadError, *subclasses(PairpadError)}:
        assert not hasattr(cls, "status"), cls
        assert cls.__module__ in {"editor_core.errors", "server.errors"}, cls


def test_codes_are_distinct() -> None:
    import_everything()
    concrete = [c for c in subclasses(PairpadError) if c is not RetryLater]
    codes = [c.code for c in concrete]
    assert len(codes) == len(set(codes)), codes


def test_retry_later_sets_retry_after_and_retry_after_ms() -> None:
    for exc in (Busy("full", retry_after_ms=2500), RateLimited("slow down", retry_after_ms=2500)):
        response = error_response(exc)
        assert (response.status_code, response.headers["retry-after"]) == (429, "3")
        assert ws_error(exc, "r1") == {"type": "error", "code": exc.code, "message": exc.message,
                                       "id": "r1", "retryAfterMs": 2500}


def test_other_errors_have_no_retry_hint() -> None:
    response = error_response(RoomFull("the room is full"))
    assert response.status_code == 429
    assert "retry-after" not in response.headers
    assert ws_error(TooLarge("big")) == {"type": "error", "code": "too_large", "message": "big"}


def test_details_go_in_the_body_other_fields_in_the_frame() -> None:
    exc = TooLarge("big", details=[{"loc": ["code"]}])
    assert json.loads(bytes(error_response(exc).body)) == {
        "error": {"code": "too_large", "message": "big", "details": [{"loc": ["code"]}]}}
    assert http_status(exc) == 413

