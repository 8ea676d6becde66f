"""The sandboxed execution service: runs a room's Python in a child process behind a language
policy (RestrictedPython, `policy.py`) and process walls (`walls.py`), from a warm fork server
(`forkserver.py`). The server uses `ExecutionService` and the value types below."""

from editor_core.execution.result import (
    ExecutionLimits,
    ExecutionResult,
    OutputCallback,
    Reason,
    Status,
)
from editor_core.execution.service import ExecutionService

__all__ = [
    "ExecutionLimits",
    "ExecutionResult",
    "ExecutionService",
    "OutputCallback",
    "Reason",
    "Status",
]
