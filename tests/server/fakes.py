"""Fake twins of the execution and completion services, for room tests that need control
over when a run ends (docs/architecture.md "Seams": rooms talk to small interfaces with a
fake twin)."""

from __future__ import annotations

import asyncio

from editor_core.completion.diagnostics import diagnose
from editor_core.completion.model import (
    Completion,
    Definition,
    Diagnostic,
    Hover,
    Parameter,
    Signature,
    Suggestion,
    Symbols,
)
from editor_core.errors import Busy
from editor_core.execution.result import ExecutionResult, OutputCallback
from editor_core.positions import utf16_to_index


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
        self.analysed: list[str] = []
        self.deadlines: list[float | None] = []
        self.ready = True  # set False to act as an engine still warming up

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def complete(self, code: str, position: int, *, key: str | None = None,
                       deadline_s: float | None = None) -> Completion | None:
        self.requests.append((code, position, key))
        self.deadlines.append(deadline_s)
        if "stale" in code:
            return None
        return Completion(position, [Suggestion(code[:position] or "empty", "variable", None,
                                                "jedi")], Symbols.empty())

    async def diagnostics(self, code: str) -> list[Diagnostic] | None:
        """The real analysis (pure and fast); None for code containing `broken`."""
        self.analysed.append(code)
        if "broken" in code:
            return None
        return diagnose(code)

    async def signatures(self, code: str, position: int, *,
                         key: str | None = None) -> list[Signature]:
        """One signature whose active parameter counts the commas before the cursor."""
        index = utf16_to_index(code, position)
        self.requests.append((code, position, key))
        return [Signature("f(a, b)", [Parameter("a", None), Parameter("b", "second")],
                          code[:index].count(","), "Doc.")]

    async def hover(self, code: str, position: int, *, key: str | None = None) -> Hover | None:
        """The position itself as the contents; None at 0."""
        utf16_to_index(code, position)
        self.requests.append((code, position, key))
        return None if position == 0 else Hover(position - 1, position, f"at {position}")

    async def definition(self, code: str, position: int, *,
                         key: str | None = None) -> Definition | None:
        """The document's first character; a library name at 0."""
        utf16_to_index(code, position)
        self.requests.append((code, position, key))
        return Definition(module="os", name="getcwd") if position == 0 else Definition(0, 1)
