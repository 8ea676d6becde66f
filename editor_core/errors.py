"""Typed errors of the domain (docs/architecture.md "Seams": one root, one translation table).

Each subclass carries the `code` of docs/protocol.md's error tables ("Errors", "Errors and
closing"); that string is part of the contract, so it lives here. How a code travels (HTTP
status, `Retry-After`, the WebSocket `error` frame) is the transport's business:
`server/errors.py` holds that table, and the errors only the server raises. Here are the
root and the errors the domain raises, including those of the room session (`RoomFull`,
`RoomLocked`, `UnknownRun`, `ReadOnly`, `ClientIdInUse`), which is moving into `editor_core`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PairpadError(Exception):
    """Root of every error a client may be told about."""

    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        # Extra fields sent beside `code` and `message` (e.g. `lock`).
        self.fields: dict[str, Any] = fields


class RetryLater(PairpadError):
    """Refused for now; the client may retry after `retry_after_ms` (docs/protocol.md "Errors")."""

    def __init__(self, message: str, retry_after_ms: int = 1000, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.retry_after_ms = retry_after_ms


class Busy(RetryLater):
    """At capacity (rooms, the run queue, completion)."""

    code = "busy"


class TooLarge(PairpadError):
    code = "too_large"


class InvalidMessage(PairpadError):
    code = "invalid_message"


class InvalidUpdate(PairpadError):
    code = "invalid_update"


class InvalidVersion(PairpadError):
    code = "invalid_version"


class HistoryGone(PairpadError):
    code = "history_gone"


class RoomLocked(PairpadError):
    code = "room_locked"


class RoomFull(PairpadError):
    code = "room_full"


class UnknownRun(PairpadError):
    code = "unknown_run"


class ReadOnly(PairpadError):
    """A viewer (docs/protocol.md "Read-only links") asked for something that changes the room."""

    code = "read_only"


class ClientIdInUse(PairpadError):
    """A viewer's connection used the clientId of an editor in the room: it may not replace it."""

    code = "client_id_in_use"
