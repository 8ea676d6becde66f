"""A worker process of one role, the queue of jobs feeding it, and the task reading it.

One job per (code, position) goes to both lanes: "ast" answers the symbols at the cursor,
"jedi" Jedi's completions (`editor_core.completion.worker` holds the other end of the pipes).
A `Query` (diagnostics, signatures, hover, definition) goes to one lane and is answered by
its worker alone. A lane sends one job at a time, skips jobs nobody waits for any more, and
kills and respawns its worker when a job runs past its hard limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import editor_core
from editor_core.completion.fallback import Cursor
from editor_core.completion.model import Completion, Symbols

log = logging.getLogger("pairpad.completion")

Role = Literal["jedi", "ast"]
Outcome = Literal["jedi", "failed", "bad_position", "dropped"]

# Started with `python -I`: no PYTHON* variables, no user site, no cwd on sys.path.
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from editor_core.completion.worker import main; sys.exit(main(sys.argv[2:]))"
)
_PACKAGE_ROOT = str(Path(editor_core.__file__).resolve().parent.parent)
_LINE_LIMIT = 64 * 1024 * 1024  # one worker message (a completion list) fits easily
# The AST worker's hard limit, as a multiple of Jedi's.
AST_LIMIT_FACTOR = 5.0


@dataclass
class Phase1:
    """The AST lane's answer: what is typed at the cursor and the symbols visible there."""

    cursor: Cursor
    symbols: Symbols


@dataclass
class Job:
    ident: int
    code: str
    position: int
    line: bytes  # the request as sent to both workers, encoded once
    phase1: asyncio.Future[Phase1 | None]  # None: the AST lane failed
    jedi: asyncio.Future[tuple[int, list[list[Any]]] | None]  # None: the Jedi lane failed
    done: asyncio.Future[tuple[Outcome, Completion | None]]
    waiters: int = 0


@dataclass(eq=False)  # compared and hashed by identity: the engine keeps a set of them
class Query:
    """One question for one lane (docs/protocol.md "Language"): `result`
    is the worker's message (`answer` or `error`), None when the worker failed or ran past
    its hard limit, or when nobody waited for it any more."""

    ident: int
    line: bytes
    result: asyncio.Future[dict[str, Any] | None]
    waiters: int = 1


class Lane:
    """One worker process of one role, the queue feeding it, and the task reading it."""

    def __init__(
        self,
        role: Role,
        *,
        preload: bool,
        start_timeout_s: float,
        hard_limit_s: Callable[[], float],
        settled: Callable[[Job], None],
        refused: Callable[[Job], None],
    ) -> None:
        self.role = role
        self.project_dir: str | None = None  # set by the engine before `spawn()`
        self._preload = preload
        self._start_timeout_s = start_timeout_s
        self._jedi_limit = hard_limit_s
        self._settled = settled  # a lane's answer (or failure) for a job is in
        self._refused = refused  # the worker found the position invalid
        self.queue: asyncio.Queue[Job | Query] = asyncio.Queue()
        self.process: asyncio.subprocess.Process | None = None
        self.reader: asyncio.Task[None] | None = None
        # The worker's "ready" message; None if it exited first.
        self.ready: asyncio.Future[dict[str, Any] | None] | None = None
        self.inflight: Job | Query | None = None
        self.dispatcher: asyncio.Task[None] | None = None
        self.respawns = 0

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    @property
    def hard_limit_s(self) -> float:
        # Jedi's inference can run away on some code; a parse is linear in the document and
        # only slow on a big new one on a busy machine: killing it would only cost a respawn.
        limit = self._jedi_limit()
        return limit if self.role == "jedi" else limit * AST_LIMIT_FACTOR

    def result_future(self, job: Job | Query) -> asyncio.Future[Any]:
        if isinstance(job, Query):
            return job.result
        return job.jedi if self.role == "jedi" else job.phase1

    async def spawn(self) -> None:
        project_dir = self.project_dir
        if project_dir is None:
            raise RuntimeError("the engine sets project_dir before spawn()")
        args = [sys.executable, "-I", "-c", _BOOT, _PACKAGE_ROOT, project_dir, self.role]
        if not self._preload:
            args.append("--no-preload")
        started = time.perf_counter()
        self.process = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            # The server's environment (tokens, paths) stays out of the worker.
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "LC_ALL": "C.UTF-8",
                "HOME": project_dir,
            },
            cwd=project_dir,
            limit=_LINE_LIMIT,
        )
        self.ready = asyncio.get_running_loop().create_future()
        self.reader = asyncio.create_task(self._read(self.process, self.ready))
        try:
            ready = await asyncio.wait_for(asyncio.shield(self.ready), self._start_timeout_s)
            if ready is None:
                raise RuntimeError(f"completion {self.role} worker exited while starting")
        except BaseException:
            await self.stop()
            raise
        log.info(
            "event=completion.worker_ready role=%s pid=%d ms=%.0f unprivileged=%s",
            self.role,
            self.process.pid,
            (time.perf_counter() - started) * 1000,
            ready.get("dropped"),
        )

    async def stop(self) -> None:
        """Kill the process and wait until it is gone and its pipes are closed."""
        process, reader = self.process, self.reader
        self.process, self.reader = None, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        if process.stdin is not None:
            process.stdin.close()
        if reader is not None:
            await reader
        await process.wait()

    async def respawn(self) -> None:
        self.respawns += 1
        await self.stop()
        await self.spawn()

    async def dispatch(self) -> None:
        while True:
            job = await self.queue.get()
            if job.waiters == 0:
                # Everyone who asked has gone (superseded, or answered by the fallback).
                self._settle(job, None)
                continue
            try:
                await self._run(job)
            except Exception as error:  # logged; the next job respawns the worker
                log.warning(
                    "event=completion.worker_failed role=%s error=%s",
                    self.role,
                    type(error).__name__,
                )
                self._settle(job, None)
                await self.stop()

    async def _run(self, job: Job | Query) -> None:
        if self.process is None or self.process.returncode is not None:
            await self.respawn()
        process = self.process
        if process is None or process.stdin is None:  # spawn() made it with a stdin pipe
            raise RuntimeError("the worker has no stdin after respawn()")
        self.inflight = job
        process.stdin.write(job.line)
        await process.stdin.drain()
        future = self.result_future(job)
        limit = self.hard_limit_s
        done, _ = await asyncio.wait({future}, timeout=limit)
        self.inflight = None
        if not done:
            log.warning(
                "event=completion.worker_over_limit role=%s limit_s=%.3f action=respawn",
                self.role,
                limit,
            )
            self._settle(job, None)
            await self.respawn()

    async def _read(
        self, process: asyncio.subprocess.Process, ready: asyncio.Future[dict[str, Any] | None]
    ) -> None:
        stdout = process.stdout
        if stdout is None:  # spawn() made the process with a stdout pipe
            raise RuntimeError("the worker has no stdout pipe")
        try:
            while raw := await stdout.readline():
                message = json.loads(raw)
                if message.get("type") == "ready":
                    if not ready.done():
                        ready.set_result(message)
                    continue
                job = self.inflight
                if job is not None and message.get("id") == job.ident:
                    self._on_answer(job, message)
                # else: the answer to a job given up on (hard limit): nobody wants it.
        finally:
            if not ready.done():
                ready.set_result(None)
            job = self.inflight
            if job is not None and self.process is process:
                self._settle(job, None)

    def _on_answer(self, job: Job | Query, message: dict[str, Any]) -> None:
        kind = message["type"]
        if isinstance(job, Query):
            self._settle(job, message)
        elif kind == "error":
            if message.get("code") == "bad_position":
                self._refused(job)
            self._settle(job, None)
        elif kind == "symbols":
            cursor = Cursor(message["from"], message["prefix"], message["attribute"])
            self._settle(job, Phase1(cursor, Symbols.from_ipc(message["symbols"])))
        elif kind == "completions":
            self._settle(job, (message["from"], message["items"]))

    def _settle(self, job: Job | Query, value: Any) -> None:
        future = self.result_future(job)
        if not future.done():
            future.set_result(value)
        if isinstance(job, Job):
            self._settled(job)
