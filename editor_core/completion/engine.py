"""The autocomplete engine: Jedi in one worker process, an AST answer when it is late.

`complete()` never blocks the event loop on Jedi. A request goes to the worker
(`editor_core.completion.worker`) through a queue that holds one job per (code, position);
the worker answers each job twice, first the AST symbols (a parse) and then Jedi's
completions. The caller gets Jedi's answer if it comes within `deadline_s`, else the AST
answer; Jedi's late answer still fills the cache. A job that runs past `hard_limit_s` gets the
worker killed and respawned.

Per requester `key`, only the newest request is wanted: when a newer one arrives, the older
returns None at once (and its job, if not yet sent to the worker and wanted by nobody else,
is dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import editor_core
from editor_core.completion.fallback import Cursor, ast_completion, ast_suggestions
from editor_core.completion.model import Completion, Suggestion, Symbols

log = logging.getLogger("pairpad.completion")

# Started with `python -I`: no PYTHON* variables, no user site, no cwd on sys.path.
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from editor_core.completion.worker import main; sys.exit(main(sys.argv[2:]))"
)
_PACKAGE_ROOT = str(Path(editor_core.__file__).resolve().parent.parent)
_LINE_LIMIT = 64 * 1024 * 1024  # one worker message (a completion list) fits easily


@dataclass
class _Phase1:
    """The worker's first answer: the AST view of the cursor."""

    cursor: Cursor
    symbols: Symbols


Outcome = Literal["jedi", "failed", "bad_position", "dropped"]


@dataclass
class _Job:
    ident: int
    code: str
    position: int
    phase1: asyncio.Future[_Phase1]
    done: asyncio.Future[tuple[Outcome, Completion | None]]
    waiters: int = 0
    sent_at: float | None = None


@dataclass
class _Request:
    stale: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class _Worker:
    """One live worker process and the task reading its answers."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.reader: asyncio.Task[None] | None = None
        self.ready: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    @property
    def pid(self) -> int:
        return self.process.pid

    async def stop(self) -> None:
        """Kill the process and wait until it is gone and its pipes are closed."""
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        if self.process.stdin is not None:
            self.process.stdin.close()
        if self.reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        await self.process.wait()


class CompletionEngine:
    """Completions for a document at a cursor; see the module docstring for how."""

    def __init__(
        self,
        *,
        deadline_s: float = 0.3,
        hard_limit_s: float = 2.0,
        preload: bool = True,
        cache_size: int = 256,
        start_timeout_s: float = 120.0,
    ) -> None:
        self.deadline_s = deadline_s
        self.hard_limit_s = hard_limit_s
        self._preload = preload
        self._cache_size = cache_size
        self._start_timeout_s = start_timeout_s
        self._cache: OrderedDict[tuple[str, int], Completion] = OrderedDict()
        self._jobs: dict[tuple[str, int], _Job] = {}
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._latest: dict[str, _Request] = {}
        self._inflight: _Job | None = None
        self._worker: _Worker | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._project_dir: str | None = None
        self._next_id = 0
        self._closed = False
        # Counters for tests, metrics and the benchmark.
        self.stats: dict[str, int] = {
            "requests": 0,
            "cache_hits": 0,
            "jedi": 0,
            "ast": 0,
            "stale": 0,
            "respawns": 0,
        }

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Spawn the worker and wait until it has preloaded and dropped privileges."""
        if self._dispatcher is not None:
            return
        # An empty directory as Jedi's project root: nothing in it to find.
        self._project_dir = tempfile.mkdtemp(prefix="pairpad-jedi-")
        await self._spawn()
        self._dispatcher = asyncio.create_task(self._dispatch(), name="completion-dispatch")

    async def close(self) -> None:
        """Stop the worker (no process outlives this) and answer pending requests None."""
        self._closed = True
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
            self._dispatcher = None
        if self._worker is not None:
            await self._worker.stop()
            self._worker = None
        for job in list(self._jobs.values()):
            _settle(job, "dropped", None)
        self._jobs.clear()
        if self._project_dir is not None:
            shutil.rmtree(self._project_dir, ignore_errors=True)
            self._project_dir = None

    @property
    def worker_pid(self) -> int | None:
        return None if self._worker is None else self._worker.pid

    # -- the API -------------------------------------------------------------------------

    async def complete(
        self, code: str, position: int, *, key: str | None = None
    ) -> Completion | None:
        """Completions at UTF-16 `position` of `code`, or None if superseded (same `key`).

        Raises ValueError when `position` is outside `0..len` or splits a surrogate pair.
        """
        _check_position(code, position)
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.stats["requests"] += 1
        request = _Request()
        if key is not None:
            older = self._latest.get(key)
            if older is not None and not older.stale.done():
                older.stale.set_result(None)
            self._latest[key] = request
        try:
            hit = self._cache.get((code, position))
            if hit is not None:
                self._cache.move_to_end((code, position))
                self.stats["cache_hits"] += 1
                self._log(started, "cache")
                return hit
            job = self._job_for(code, position)
            job.waiters += 1
            try:
                return await self._await(job, request, started)
            finally:
                job.waiters -= 1
        finally:
            if key is not None and self._latest.get(key) is request:
                del self._latest[key]

    async def _await(self, job: _Job, request: _Request, started: float) -> Completion | None:
        loop = asyncio.get_running_loop()
        remaining = max(0.0, self.deadline_s - (loop.time() - started))
        awaited: set[asyncio.Future[Any]] = {job.done, request.stale}
        await asyncio.wait(awaited, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        if request.stale.done():
            self.stats["stale"] += 1
            self._log(started, "stale")
            return None
        if job.done.done():
            outcome, completion = job.done.result()
            if outcome == "bad_position":
                raise ValueError(f"position {job.position} is not a valid UTF-16 offset")
            if outcome == "jedi" and completion is not None:
                self.stats["jedi"] += 1
                self._log(started, "jedi")
                return completion
            if outcome == "dropped":
                return None
        # Late, failed or killed: the AST answer.
        answer = await self._ast_answer(job)
        if request.stale.done():
            self.stats["stale"] += 1
            return None
        self.stats["ast"] += 1
        self._log(started, "ast")
        return answer

    async def _ast_answer(self, job: _Job) -> Completion:
        if job.phase1.done() and not job.phase1.cancelled():
            phase1 = job.phase1.result()
            return Completion(
                phase1.cursor.from_,
                ast_suggestions(phase1.symbols, phase1.cursor),
                phase1.symbols,
            )
        # The worker never got to this job (busy, respawning): parse here, off the loop.
        return await asyncio.to_thread(ast_completion, job.code, job.position)

    def _log(self, started: float, source: str) -> None:
        if log.isEnabledFor(logging.DEBUG):
            elapsed = (asyncio.get_running_loop().time() - started) * 1000
            log.debug("completion source=%s ms=%.2f", source, elapsed)

    # -- jobs and the worker ---------------------------------------------------------------

    def _job_for(self, code: str, position: int) -> _Job:
        job = self._jobs.get((code, position))
        if job is None:
            if self._closed or self._dispatcher is None:
                raise RuntimeError("CompletionEngine is not started")
            loop = asyncio.get_running_loop()
            self._next_id += 1
            job = _Job(self._next_id, code, position, loop.create_future(), loop.create_future())
            self._jobs[(code, position)] = job
            self._queue.put_nowait(job)
        return job

    async def _dispatch(self) -> None:
        while True:
            job = await self._queue.get()
            if job.waiters == 0:
                # Everyone who asked has gone (superseded or answered by the fallback).
                self._finish(job, "dropped", None)
                continue
            try:
                await self._run(job)
            except Exception as error:  # logged; the next job respawns the worker
                log.warning(
                    "completion worker failed (%s); it restarts for the next job",
                    type(error).__name__,
                )
                self._finish(job, "failed", None)
                await self._discard_worker()

    async def _run(self, job: _Job) -> None:
        worker = self._worker
        if worker is None or worker.process.returncode is not None:
            await self._respawn()
            worker = self._worker
        assert worker is not None
        assert worker.process.stdin is not None
        line = json.dumps(
            {"id": job.ident, "code": job.code, "position": job.position}, ensure_ascii=True
        )
        self._inflight = job
        job.sent_at = time.perf_counter()
        worker.process.stdin.write(line.encode("ascii") + b"\n")
        await worker.process.stdin.drain()
        done, _ = await asyncio.wait({job.done}, timeout=self.hard_limit_s)
        self._inflight = None
        if not done:
            log.warning(
                "completion worker over its hard limit (%.3fs): respawning", self.hard_limit_s
            )
            self._finish(job, "failed", None)
            await self._respawn()

    async def _respawn(self) -> None:
        self.stats["respawns"] += 1
        await self._discard_worker()
        await self._spawn()

    async def _discard_worker(self) -> None:
        if self._worker is not None:
            worker, self._worker = self._worker, None
            await worker.stop()

    async def _spawn(self) -> None:
        assert self._project_dir is not None
        args = [sys.executable, "-I", "-c", _BOOT, _PACKAGE_ROOT, self._project_dir]
        if not self._preload:
            args.append("--no-preload")
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            # The server's environment (tokens, paths) stays out of the worker.
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "LC_ALL": "C.UTF-8",
                "HOME": self._project_dir,
            },
            cwd=self._project_dir,
            limit=_LINE_LIMIT,
        )
        worker = _Worker(process)
        worker.reader = asyncio.create_task(self._read(worker), name="completion-reader")
        self._worker = worker
        try:
            ready = await asyncio.wait_for(asyncio.shield(worker.ready), self._start_timeout_s)
        except BaseException:
            await worker.stop()
            self._worker = None
            raise
        log.info(
            "completion worker ready pid=%d startup_ms=%.0f preload_ms=%.0f unprivileged=%s",
            worker.pid,
            (time.perf_counter() - started) * 1000,
            ready.get("preloadMs", 0.0),
            ready.get("dropped"),
        )

    async def _read(self, worker: _Worker) -> None:
        stdout = worker.process.stdout
        assert stdout is not None
        try:
            while True:
                raw = await stdout.readline()
                if not raw:
                    break
                self._on_message(worker, json.loads(raw))
        finally:
            if not worker.ready.done():
                worker.ready.set_exception(RuntimeError("completion worker exited at start"))
            job = self._inflight
            if job is not None and self._worker is worker:
                self._finish(job, "failed", None)

    def _on_message(self, worker: _Worker, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "ready":
            if not worker.ready.done():
                worker.ready.set_result(message)
            return
        job = self._inflight
        if job is None or message.get("id") != job.ident:
            return  # an answer to a job given up on (hard limit) -- nobody wants it
        if kind == "symbols":
            cursor = Cursor(message["from"], message["prefix"], message["attribute"])
            if not job.phase1.done():
                job.phase1.set_result(_Phase1(cursor, Symbols.from_wire(message["symbols"])))
        elif kind == "completions":
            phase1 = job.phase1.result() if job.phase1.done() else None
            symbols = phase1.symbols if phase1 is not None else Symbols.empty()
            suggestions = [
                Suggestion(label, kind_, detail, "jedi")
                for label, kind_, detail in message["items"]
            ]
            completion = Completion(message["from"], suggestions, symbols)
            self._remember(job, completion)
            self._finish(job, "jedi", completion)
        elif kind == "error":
            outcome: Outcome = (
                "bad_position" if message.get("code") == "bad_position" else ("failed")
            )
            self._finish(job, outcome, None)

    def _remember(self, job: _Job, completion: Completion) -> None:
        self._cache[(job.code, job.position)] = completion
        self._cache.move_to_end((job.code, job.position))
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _finish(self, job: _Job, outcome: Outcome, completion: Completion | None) -> None:
        if self._jobs.get((job.code, job.position)) is job:
            del self._jobs[(job.code, job.position)]
        _settle(job, outcome, completion)


def _settle(job: _Job, outcome: Outcome, completion: Completion | None) -> None:
    if not job.done.done():
        job.done.set_result((outcome, completion))
    if not job.phase1.done():
        job.phase1.cancel()


def _check_position(code: str, position: int) -> None:
    """Cheap bounds check on the loop; a non-ASCII document's exact check (surrogate pairs)
    happens off the loop, in the worker or in the fallback parse."""
    if position < 0:
        raise ValueError(f"position {position} is negative")
    limit = len(code) if code.isascii() else 2 * len(code)
    if position > limit:
        raise ValueError(f"position {position} is past the end of the code")
