"""ExecutionService: runs programs in sandboxed children, a few at a time, never in-process.

The service decides (queue, limits, verdicts); the fork server forks; each child raises its
walls and runs one program (the core decides, a worker does the heavy part off the event loop).
Guarantees 3 and 4 of docs/architecture.md "Guarantees" are what this module answers for: a
run ends within its wall time whatever the program does (the parent's timer kills the child's
whole process group), and a run never blocks the event loop (everything here is awaited or a
non-blocking callback).

Fairness: at most `max_concurrent` runs at once, first come first served, and at most
`max_queue` waiting; beyond that `run` raises `Busy` with a retry estimate.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

from editor_core.errors import Busy, TooLarge
from editor_core.execution import framing
from editor_core.execution.forkserver_client import (
    ChildHandle,
    ChildRequest,
    ForkServerClient,
    ForkServerDown,
)
from editor_core.execution.output import OutputReader
from editor_core.execution.result import (
    ExecutionLimits,
    ExecutionResult,
    OutputCallback,
    Reason,
    Status,
)

logger = logging.getLogger("pairpad.execution")

# The uid of slot 0; slot n runs as this minus n, so even two sandboxes running at once cannot
# signal or trace each other. A uid no account and no other component uses (the completion
# worker runs as nobody): a high one where the uid space is fully mapped, nobody (65534) in a
# user namespace that maps only the usual 16-bit range.
HIGH_SANDBOX_UID = 0x7000_0000
NOBODY_UID = 65534
# How long a killed child may take to be reaped before we call it a machinery failure.
_KILL_GRACE_S = 5.0
_Ending = Literal["stopped", "closed"]


@dataclass(eq=False)
class _Run:
    run_id: str
    # Resolves with why the run must end early: stop() or close().
    ending: asyncio.Future[_Ending] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    # Resolves with the slot a queued run was given.
    turn: asyncio.Future[int] | None = None


class ExecutionService:
    """Runs Python programs in sandboxed children of a warm fork server.

    `run` raises `TooLarge` (code or stdin over the limits), `Busy` (every slot taken and the
    queue full) and `ValueError` (a `run_id` that is already queued or running); every other
    ending, machinery failures included, is an `ExecutionResult`. `stop` ends a queued or
    running run with status "stopped". One instance per event loop.
    """

    def __init__(
        self,
        limits: ExecutionLimits = ExecutionLimits(),  # noqa: B008 - frozen, so shared safely
        *,
        max_concurrent: int = 1,
        max_queue: int = 16,
        sandbox_uid: int | None = None,
    ) -> None:
        if max_concurrent < 1 or max_queue < 0:
            raise ValueError("max_concurrent must be >= 1 and max_queue >= 0")
        self.limits = limits
        self._max_concurrent = max_concurrent
        self._max_queue = max_queue
        self._sandbox_uid = default_sandbox_uid() if sandbox_uid is None else sandbox_uid
        self._client = ForkServerClient()
        self._start_lock = asyncio.Lock()
        self._free_slots = list(range(max_concurrent))
        self._queue: deque[_Run] = deque()
        self._runs: dict[str, _Run] = {}
        self._running = 0
        self._average_ms = 1000.0
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the fork server (the warm pool). `run` also does it when needed, and
        starts a new one if the last one died.

        A fork server that cannot start is logged, not raised: the rest of the server works
        without runs, and each run tries again (and ends "killed" if it still can't)."""
        self._closed = False
        try:
            await self._ensure_started()
        except (ForkServerDown, OSError):
            logger.exception("event=forkserver.start_failed")

    async def _ensure_started(self) -> None:
        async with self._start_lock:
            if self._closed:
                # A late run during shutdown must not bring the fork server back.
                raise ForkServerDown("the service is closed")
            if not self._client.alive:
                await self._client.start()

    async def close(self) -> None:
        """End every run (their results say "killed") and the fork server with its children.
        Runs after this end as "killed" too, until `start` is called again."""
        self._closed = True
        for run in list(self._runs.values()):
            if not run.ending.done():
                run.ending.set_result("closed")
        self._queue.clear()
        async with self._start_lock:
            await self._client.close()

    # -- metrics ---------------------------------------------------------------------------

    @property
    def running(self) -> int:
        return self._running

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def fork_server_pid(self) -> int | None:
        """For tests and operators: the parent of every sandboxed child."""
        return self._client.pid

    @property
    def network_isolated(self) -> bool:
        return self._client.network_isolated

    @property
    def filesystem_hidden(self) -> bool:
        return self._client.filesystem_hidden

    # -- runs ------------------------------------------------------------------------------

    async def run(
        self,
        code: str,
        stdin: str = "",
        *,
        on_output: OutputCallback | None = None,
        run_id: str | None = None,
    ) -> ExecutionResult:
        program = _encode_program(code, stdin, self.limits)
        run_id = run_id or uuid.uuid4().hex
        if run_id in self._runs:
            raise ValueError(f"run {run_id} is already queued or running")
        if not self._free_slots and len(self._queue) >= self._max_queue:
            raise Busy("too many runs in progress", retry_after_ms=self._retry_after_ms())
        run = _Run(run_id)
        self._runs[run_id] = run
        try:
            slot = await self._acquire(run)
            if slot is None:
                ending = run.ending.result()
                logger.info("event=sandbox.ended_in_queue run=%s ending=%s", run_id, ending)
                return _result("stopped" if ending == "stopped" else "sandbox_failure", 0)
            self._running += 1
            try:
                return await self._execute(run, slot, program, on_output)
            finally:
                self._running -= 1
                self._release(slot)
        finally:
            del self._runs[run_id]

    def stop(self, run_id: str) -> bool:
        """Stop a queued or running run; its result then has status "stopped"."""
        run = self._runs.get(run_id)
        if run is None:
            return False
        if not run.ending.done():
            run.ending.set_result("stopped")
        if run in self._queue:
            self._queue.remove(run)
        return True

    # -- slots -----------------------------------------------------------------------------

    async def _acquire(self, run: _Run) -> int | None:
        """A slot for `run`, in arrival order; None if it was stopped while waiting."""
        if self._free_slots and not self._queue:
            return self._free_slots.pop(0)
        run.turn = turn = asyncio.get_running_loop().create_future()
        self._queue.append(run)
        logger.debug("event=sandbox.queued run=%s position=%d", run.run_id, len(self._queue))
        try:
            await asyncio.wait((turn, run.ending), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if run in self._queue:
                self._queue.remove(run)
            if turn.done() and (run.ending.done() or _cancelling()):
                self._release(turn.result())
        return turn.result() if turn.done() and not run.ending.done() else None

    def _release(self, slot: int) -> None:
        while self._queue:
            waiting = self._queue.popleft()
            if waiting.turn is not None and not waiting.turn.done():
                waiting.turn.set_result(slot)
                return
        self._free_slots.append(slot)
        self._free_slots.sort()

    def _retry_after_ms(self) -> int:
        estimate = self._average_ms * (len(self._queue) + 1) / self._max_concurrent
        return int(min(max(estimate, 100.0), 60_000.0))

    # -- one run ---------------------------------------------------------------------------

    async def _execute(
        self, run: _Run, slot: int, program: bytes, on_output: OutputCallback | None
    ) -> ExecutionResult:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await self._ensure_started()
            # The wall clock starts at the fork: (re)starting the fork server is not the
            # program's time.
            started = loop.time()
            handle, reader = self._launch(slot, program, on_output)
        except (ForkServerDown, OSError) as error:
            logger.warning(
                "event=sandbox.launch_failed run=%s error=%s reason=%r",
                run.run_id,
                type(error).__name__,
                str(error),
            )
            return _result("sandbox_failure", _elapsed_ms(started))
        logger.debug("event=sandbox.started run=%s slot=%d", run.run_id, slot)
        try:
            ending = await self._supervise(run, handle, reader, started)
        finally:
            # Also reached when our caller is cancelled: the child must not outlive the run.
            self._client.kill(handle)
            reader.close()
        result = _verdict(ending, handle, reader, _elapsed_ms(started), self.limits)
        if result.exit_code == framing.EXIT_MACHINERY and reader.verdict is None:
            logger.error("event=sandbox.walls_failed run=%s", run.run_id)
        self._average_ms = 0.8 * self._average_ms + 0.2 * result.duration_ms
        logger.info(
            "event=sandbox.finished run=%s status=%s reason=%s exit=%s ms=%d truncated=%s pid=%s",
            run.run_id, result.status, result.reason, result.exit_code, result.duration_ms,
            result.truncated, handle.pid,
        )  # fmt: skip
        return result

    def _launch(
        self, slot: int, program: bytes, on_output: OutputCallback | None
    ) -> tuple[ChildHandle, OutputReader]:
        limits = self.limits
        request = ChildRequest(
            uid=self._sandbox_uid - slot if self._client.privileged else None,
            cpu_time_s=limits.cpu_time_s,
            memory_bytes=limits.memory_bytes,
            output_bytes=limits.output_bytes,
        )
        program_fd = os.memfd_create("pairpad-program", os.MFD_CLOEXEC)
        read_fd, write_fd = os.pipe()
        try:
            view = memoryview(program)
            while view:
                view = view[os.write(program_fd, view) :]
            handle = self._client.launch(request, program_fd, write_fd)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(program_fd)
            os.close(write_fd)
        return handle, OutputReader(read_fd, limits.output_bytes, on_output)

    async def _supervise(
        self, run: _Run, handle: ChildHandle, reader: OutputReader, started: float
    ) -> str | None:
        """Wait for the child to finish, or for a reason to kill it; return that reason."""
        loop = asyncio.get_running_loop()
        deadline = started + self.limits.wall_time_s
        ending: str | None = None
        while not (handle.exited.done() and reader.eof.done()):
            if run.ending.done():
                ending = run.ending.result()
                break
            if reader.failed.done():
                ending = "output"
                break
            remaining = deadline - loop.time()
            if remaining <= 0:
                ending = "timeout"
                break
            pending = [f for f in (handle.exited, reader.eof) if not f.done()]
            await asyncio.wait(
                [*pending, run.ending, reader.failed],
                timeout=remaining,
                return_when=asyncio.FIRST_COMPLETED,
            )
        if ending is not None:
            self._client.kill(handle)
            try:
                await asyncio.wait_for(
                    asyncio.gather(asyncio.shield(handle.exited), asyncio.shield(reader.eof)),
                    _KILL_GRACE_S,
                )
            except TimeoutError:
                # The fork server does not answer: replace it (the next run starts another).
                logger.error("event=sandbox.not_reaped run=%s", run.run_id)
                self._client.abort("a killed child was not reaped")
        return ending


def default_sandbox_uid(uid_map: str | None = None) -> int:
    """`HIGH_SANDBOX_UID` if our user namespace maps it (and the 64 below it), else nobody."""
    if uid_map is None:
        try:
            uid_map = Path("/proc/self/uid_map").read_text()
        except OSError:
            return NOBODY_UID
    numbers = [int(field) for field in uid_map.split()]
    for inside, _, count in zip(numbers[::3], numbers[1::3], numbers[2::3], strict=False):
        if inside <= HIGH_SANDBOX_UID - 64 and inside + count > HIGH_SANDBOX_UID:
            return HIGH_SANDBOX_UID
    return NOBODY_UID


def _encode_program(code: str, stdin: str, limits: ExecutionLimits) -> bytes:
    code_bytes = len(code.encode("utf-8", "surrogatepass"))
    if code_bytes > limits.max_code_bytes:
        raise TooLarge(f"code is {code_bytes} bytes; at most {limits.max_code_bytes} are allowed")
    stdin_bytes = len(stdin.encode("utf-8", "surrogatepass"))
    if stdin_bytes > limits.max_stdin_bytes:
        raise TooLarge(
            f"stdin is {stdin_bytes} bytes; at most {limits.max_stdin_bytes} are allowed"
        )
    return json.dumps({"code": code, "stdin": stdin}).encode()


def _verdict(
    ending: str | None,
    handle: ChildHandle,
    reader: OutputReader,
    duration_ms: int,
    limits: ExecutionLimits,
) -> ExecutionResult:
    raw = handle.exited.result() if handle.exited.done() else None
    exit_code = None if raw is None else os.waitstatus_to_exitcode(raw)
    reason, limit = _reason(ending, exit_code, reader, duration_ms, limits)
    return ExecutionResult(
        status=_STATUS_OF[reason],
        output=reader.text(),
        stdout=reader.text("stdout"),
        stderr=reader.text("stderr"),
        exit_code=exit_code,
        duration_ms=duration_ms,
        truncated=reader.truncated,
        reason=reason,
        limit=limit,
    )


def _reason(
    ending: str | None,
    exit_code: int | None,
    reader: OutputReader,
    duration_ms: int,
    limits: ExecutionLimits,
) -> tuple[Reason | None, float | None]:
    """Why the run ended, and the limit it reached (docs/sandbox.md "How a run ends")."""
    if ending == "stopped":
        return "stopped", None
    if ending == "timeout":
        return "wall_limit", limits.wall_time_s
    if reader.truncated:
        # Over the output cap: killed for it, even if it happened to end by itself first.
        return "output_limit", limits.output_bytes
    if ending is not None or exit_code is None:
        # Bad frames or a flood of them, the service closing, the fork server lost.
        return "sandbox_failure", None
    if reader.verdict is None:
        # Died without a word: a wall's signal, or the machinery.
        if exit_code == -signal.SIGXCPU or (
            exit_code == -signal.SIGKILL and duration_ms >= limits.cpu_time_s * 1000
        ):
            # RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL a second later. A SIGKILL we did
            # not send before that much time even passed is the kernel's OOM killer.
            return "cpu_limit", limits.cpu_time_s
        if exit_code == -signal.SIGKILL:
            return "memory_limit", limits.memory_bytes
        return "sandbox_failure", None
    if reader.verdict == "ok":
        return None, None
    reason = cast("Reason", reader.verdict)  # one of CHILD_REASONS: decode_verdict checked it
    return reason, (limits.memory_bytes if reason == "memory_limit" else None)


_STATUS_OF: dict[Reason | None, Status] = {
    None: "ok",
    "exception": "error",
    "exit": "error",
    "tests_failed": "tests_failed",
    "wall_limit": "timeout",
    "cpu_limit": "killed",
    "memory_limit": "killed",
    "output_limit": "killed",
    "stopped": "stopped",
    "sandbox_failure": "killed",
}


def _result(reason: Reason, duration_ms: int) -> ExecutionResult:
    """The result of a run that no child ran for."""
    return ExecutionResult(_STATUS_OF[reason], "", "", "", None, duration_ms, False, reason)


def _elapsed_ms(started: float) -> int:
    return int((asyncio.get_running_loop().time() - started) * 1000)


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
