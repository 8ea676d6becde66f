"""Typed errors of the domain (STYLE.md, habit 3: one root exception, one translation table).

Each subclass carries the `code` of PROTOCOL.md's error tables and the REST `status` it maps
to. `server/errors.py` is the only place that turns them into HTTP responses or WebSocket
`error` frames.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PairpadError(Exception):
    """Root of every error a client may be told about."""

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        # Extra fields sent beside `code` and `message` (e.g. `retryAfterMs`, `lock`).
        self.fields: dict[str, Any] = fields


class InvalidJson(PairpadError):
    code = "invalid_json"
    status = 400


class ValidationFailed(PairpadError):
    code = "validation_error"
    status = 422


class UnsupportedLanguage(PairpadError):
    code = "unsupported_language"
    status = 422


class Unauthorized(PairpadError):
    code = "unauthorized"
    status = 401


class RoomNotFound(PairpadError):
    code = "room_not_found"
    status = 404


class TooLarge(PairpadError):
    code = "too_large"
    status = 413


class Busy(PairpadError):
    """At capacity. `retry_after_ms` becomes `Retry-After` (REST) or `retryAfterMs` (WS)."""

    code = "busy"
    status = 429

    def __init__(self, message: str, retry_after_ms: int = 1000, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.retry_after_ms = retry_after_ms


class InvalidMessage(PairpadError):
    code = "invalid_message"
    status = 400


class InvalidUpdate(PairpadError):
    code = "invalid_update"
    status = 422


class InvalidVersion(PairpadError):
    code = "invalid_version"
    status = 409


class HistoryGone(PairpadError):
    code = "history_gone"
    status = 410


class RateLimited(PairpadError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, retry_after_ms: int = 1000, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.retry_after_ms = retry_after_ms


class RoomLocked(PairpadError):
    code = "room_locked"
    status = 409


class RoomFull(PairpadError):
    code = "room_full"
    status = 429


class UnknownRun(PairpadError):
    code = "unknown_run"
    status = 404
