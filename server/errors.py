"""The one translation table from typed errors to the wire (docs/architecture.md "Seams").

REST: `{"error": {"code", "message", "details"?}}` with the status `HTTP_STATUS` gives the error's
class, plus `Retry-After` on a `RetryLater` (docs/protocol.md "Errors"). WebSocket: an `error`
frame with `code`, `message`, the request `id` when there was one, `retryAfterMs` on a
`RetryLater`, and the error's extra fields. The errors only the server raises live here too; they
subclass `PairpadError` so one handler serves all.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from editor_core.errors import (
    Busy,
    ClientIdInUse,
    HistoryGone,
    InvalidMessage,
    InvalidUpdate,
    InvalidVersion,
    PairpadError,
    ReadOnly,
    RetryLater,
    RoomFull,
    RoomLocked,
    TooLarge,
    UnknownRun,
)


class InvalidJson(PairpadError):
    code = "invalid_json"


class ValidationFailed(PairpadError):
    code = "validation_error"


class UnsupportedLanguage(PairpadError):
    code = "unsupported_language"


class Unauthorized(PairpadError):
    code = "unauthorized"


class RoomNotFound(PairpadError):
    code = "room_not_found"


class LinkNotFound(PairpadError):
    """No such read-only link (docs/protocol.md "Read-only links"), or not of this room."""

    code = "link_not_found"


class LinkRevoked(PairpadError):
    """The read-only link was revoked: nothing goes through it any more."""

    code = "link_revoked"


class VersionNotFound(PairpadError):
    """A version the room has not reached (docs/protocol.md "History")."""

    code = "version_not_found"


class RoomMoved(PairpadError):
    """The room's owner process changed or did not answer: the client reconnects (1012)."""

    code = "room_moved"


class StoreUnavailable(RetryLater):
    """The database cannot be reached or our connection to it broke (a restart, a crash, a
    network cut). What was in flight may or may not have committed; nothing of it was
    confirmed. The client retries; the store reconnects on its next use."""

    code = "store_unavailable"


class RateLimited(RetryLater):
    """A connection sent more messages than its token bucket allows (server/connection.py)."""

    code = "rate_limited"


# Every PairpadError subclass has its REST status here (tests/server/test_errors.py checks it).
HTTP_STATUS: dict[type[PairpadError], int] = {
    PairpadError: 500,
    InvalidJson: 400,
    InvalidMessage: 400,
    Unauthorized: 401,
    RoomNotFound: 404,
    LinkNotFound: 404,
    LinkRevoked: 403,
    ReadOnly: 403,
    ClientIdInUse: 409,
    VersionNotFound: 404,
    RoomMoved: 503,
    StoreUnavailable: 503,
    UnknownRun: 404,
    InvalidVersion: 409,
    RoomLocked: 409,
    HistoryGone: 410,
    TooLarge: 413,
    ValidationFailed: 422,
    UnsupportedLanguage: 422,
    InvalidUpdate: 422,
    RetryLater: 429,
    Busy: 429,
    RateLimited: 429,
    RoomFull: 429,
}


def http_status(exc: PairpadError) -> int:
    """The status of the nearest class in the table (every class is there; see the test)."""
    return next(HTTP_STATUS[cls] for cls in type(exc).__mro__ if cls in HTTP_STATUS)


log = logging.getLogger("pairpad.errors")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors without echoing the input back (it may be a user's code)."""
    return [
        {"loc": [str(p) for p in e["loc"]], "message": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]


def from_validation(exc: ValidationError) -> ValidationFailed:
    return ValidationFailed("request does not match the schema",
                            details=validation_details(exc))


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def error_response(exc: PairpadError) -> Response:
    fields = dict(exc.fields)
    details = fields.pop("details", None)
    headers = {}
    if isinstance(exc, RetryLater):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_ms / 1000)))
    return JSONResponse(error_body(exc.code, exc.message, details), http_status(exc),
                        headers=headers)


def ws_error(exc: PairpadError, request_id: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": exc.code, "message": exc.message}
    if request_id is not None:
        frame["id"] = request_id
    if isinstance(exc, RetryLater):
        frame["retryAfterMs"] = exc.retry_after_ms
    frame.update(exc.fields)
    return frame


async def handle_pairpad_error(request: Request, exc: Exception) -> Response:
    # Starlette types every handler as taking an Exception; EXCEPTION_HANDLERS routes by class.
    if not isinstance(exc, PairpadError):
        return await handle_unexpected(request, exc)
    return error_response(exc)


async def handle_http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):
        return await handle_unexpected(request, exc)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("event=http.unhandled path=%s", request.url.path)
    return JSONResponse(error_body("internal_error", "internal server error"), 500)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    PairpadError: handle_pairpad_error,
    HTTPException: handle_http_error,
    Exception: handle_unexpected,
}
