"""The value types of the execution service: what a run may use and what it returns.

The wire form of `ExecutionResult` (docs/protocol.md "REST", camelCase keys) is defined once, by
the server's wire model (server/models.py); this is the domain value it is built from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "error", "tests_failed", "timeout", "killed", "stopped"]
# Why a run did not end "ok", in plain words (docs/sandbox.md "How a run ends" has the table of
# which status goes with which reason).
Reason = Literal[
    "exception",
    "exit",
    "tests_failed",
    "wall_limit",
    "cpu_limit",
    "memory_limit",
    "output_limit",
    "stopped",
    "sandbox_failure",
]
# What the child itself can say about its ending (its verdict frame); the service adds the
# walls it saw from outside.
CHILD_REASONS: frozenset[str] = frozenset({"exception", "exit", "tests_failed", "memory_limit"})

# (stream, data): stream is "stdout" or "stderr"; called on the event loop, in the order
# written, batched.
OutputCallback = Callable[[str, str], None]


@dataclass(frozen=True)
class ExecutionLimits:
    """The walls of one run. Sizes are in bytes (UTF-8 for code, stdin and output)."""

    wall_time_s: float = 10.0
    cpu_time_s: int = 10
    memory_bytes: int = 256 * 2**20
    output_bytes: int = 64 * 1024
    max_code_bytes: int = 100_000
    # Not in the list; bounded because a run's stdin is held in memory twice.
    max_stdin_bytes: int = 1024 * 1024


@dataclass(frozen=True)
class ExecutionResult:
    """How a run ended.

    `exit_code` is the child's exit code as `subprocess` reports it (a negative signal number
    when a signal ended it), or None when no process ran for it (stopped while queued, or a
    failure of the machinery before the fork). `reason` is None exactly when `status` is "ok";
    `limit` is the limit that was reached, in the reason's unit (bytes for memory and output,
    seconds for wall and CPU time), else None.
    """

    status: Status
    output: str
    stdout: str
    stderr: str
    exit_code: int | None
    duration_ms: int
    truncated: bool
    reason: Reason | None = None
    limit: float | None = None

