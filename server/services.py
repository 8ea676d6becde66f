"""What a room needs from the rest of the server, passed in one object."""

from __future__ import annotations

from dataclasses import dataclass

from editor_core.completion import CompletionEngine
from editor_core.execution import ExecutionService
from server.config import Settings
from server.metrics import Metrics
from server.store import Store


@dataclass
class Services:
    settings: Settings
    store: Store
    execution: ExecutionService
    completion: CompletionEngine
    metrics: Metrics

    @property
    def run_slots(self) -> int:
        """Runs that may be executing or queued at once before `busy`."""
        return self.settings.run_concurrency + self.settings.run_queue
