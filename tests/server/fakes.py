"""Fake twins of the execution and completion services, for room tests that need control
over when a run ends (docs/architecture.md "Seams": rooms talk to small interfaces with a
fake twin)."""

from __future__ import annotations

import asyncio

from editor_core.completion.model import Completion, Suggestion, Symbols
from editor_core.errors import Busy
from editor_core.execution.result import ExecutionResult, OutputCallback


class FakeRunner:
    """`print:TEXT` lines write TEXT to stdout, `warn:TEXT` to stderr; a `block` line waits
    until the run is stopped; `crash` raises, as a broken sandbox would."""

    def __init__(self) -> None:
        self.running = 0
        self.queued = 0
        self.codes: list[str] = []
        self.stdins: list[str] = []
        self.busy = False  # when set, every run is refused as the real queue refuses
        self._stops: dict[str, asyncio.Event] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for event in self._stops.values():
            event.set()

    async def run(self, code: str, stdin: str = "", *, on_output: OutputCallback | None = None,
                  run_id: str | None = None) -> ExecutionResult:
        if self.busy:
            raise Busy("the run queue is full", retry_after_ms=1500)
        self.codes.append(code)
        self.stdins.append(stdin)
        stopped = self._stops.setdefault(run_id or "rest", asyncio.Event())
        out: list[str] = []
        status = "ok"
        self.running += 1
        try:
            for line in code.splitlines():
                stream, _, text = line.partition(":")
                if stream in ("print", "warn") and on_output is not None:
                    on_output("stdout" if stream == "print" else "stderr", text + "\n")
                    out.append(text + "\n")
                elif line == "block":
                    await stopped.wait()
                    status = "stopped"
                    break
                elif line == "crash":
                    raise RuntimeError("sandbox machinery failed")
        finally:
            self.running -= 1
        text = "".join(out)
        return ExecutionResult(status, text, text, "", 0 if status == "ok" else None, 1,  # type: ignore[arg-type]
                               False, None if status == "ok" else "stopped")

    def stop(self, run_id: str) -> bool:
        event = self._stops.get(run_id)
        if event is None:
            return False
        event.set()
        return True


class FakeCompleter:
    """Offers the text before the cursor as a suggestion; `stale` in the code means a newer
    request superseded this one."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, int, str | None]] = []

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def complete(self, code: str, position: int, *,
                       key: str | None = None) -> Completion | None:
        self.requests.append((code, position, key))
        if "stale" in code:
            return None
        return Completion(position, [Suggestion(code[:position] or "empty", "variable", None,
                                                "jedi")], Symbols.empty())
