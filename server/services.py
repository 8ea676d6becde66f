"""What a room needs from the rest of the server, passed in one object. The runner and the
completer are protocols, so tests can hand a room a fake (docs/architecture.md "Seams")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from editor_core.completion import Completion
from editor_core.completion.model import Definition, Diagnostic, Hover, Signature
from editor_core.execution import ExecutionResult, OutputCallback
from server.config import Settings
from server.metrics import Metrics
from server.store import RoomStore


class Runner(Protocol):
    """editor_core.execution.ExecutionService, as the server uses it."""

    @property
    def running(self) -> int: ...

    @property
    def queued(self) -> int: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def run(self, code: str, stdin: str = "", *, on_output: OutputCallback | None = None,
                  run_id: str | None = None) -> ExecutionResult: ...

    def stop(self, run_id: str) -> bool: ...


class Completer(Protocol):
    """editor_core.completion.CompletionEngine, as the server uses it."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def complete(self, code: str, position: int, *, key: str | None = None,
                       deadline_s: float | None = None) -> Completion | None: ...

    async def diagnostics(self, code: str) -> list[Diagnostic] | None: ...

    async def signatures(self, code: str, position: int, *,
                         key: str | None = None) -> list[Signature]: ...

    async def hover(self, code: str, position: int, *, key: str | None = None) -> Hover | None: ...

    async def definition(self, code: str, position: int, *,
                         key: str | None = None) -> Definition | None: ...


@dataclass
class Services:
    settings: Settings
    store: RoomStore
    execution: Runner
    completion: Completer
    metrics: Metrics

    @property
    def run_slots(self) -> int:
        """Runs that may be executing or queued at once before `busy`."""
        return self.settings.run_concurrency + self.settings.run_queue
