"""The autocomplete engine: Jedi and the AST symbols in two worker processes.

`complete()` never blocks the event loop on Jedi or on a parse. Each request becomes one job
per (code, position), queued to two lanes (`lane.py`), each one worker process (`worker.py`):
the "ast" lane answers the symbols at the cursor (a parse, milliseconds), the "jedi" lane
Jedi's completions (inference, sometimes slow). They run in parallel. The caller gets the Jedi
answer if it comes within `deadline_s`, else the AST answer (symbols filtered by the typed
word, builtins, keywords); Jedi's late answer still fills the cache. A worker that runs one
job past `hard_limit_s` is killed and respawned.

Per requester `key`, only the newest request is wanted: when a newer one arrives, the older
returns None at once, and a job nobody waits for any more is not sent to a worker. A keystroke
that only extends the word at the cursor is answered from the previous keystroke's Jedi list.

Diagnostics, signatures, hover and definitions are `Query`s to one lane each (diagnostics to
the AST worker, the rest to Jedi's), under the same workers, hard limits and confinement;
they have no fallback: a query that fails or runs out of time is answered with nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import shutil
import tempfile
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from editor_core.completion.confinement import stubs_directory
from editor_core.completion.fallback import (
    ast_completion,
    ast_suggestions,
    bare_completion,
    cursor_at,
)
from editor_core.completion.lane import Job, Lane, Outcome, Query, Role
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

log = logging.getLogger("pairpad.completion")

_PROVISIONAL_SIZE = 64
_RECENT_SIZE = 8
_MAX_TYPED = 64  # characters typed since a previous request that an answer can be derived over
_WORD = re.compile(r"[A-Za-z0-9_]*")
# Above this size the last-resort fallback (both workers busy or restarting) skips the parse:
# parsing in a thread of the server process would hold the GIL for the event loop's time.
_LOCAL_PARSE_LIMIT = 20_000


class _Underived:
    """`_derive`'s answer when the request must go to the workers after all."""


_UNDERIVED = _Underived()


@dataclass
class _Request:
    stale: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


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
        max_jedi_chars: int = 150_000,
    ) -> None:
        self.deadline_s = deadline_s
        self.hard_limit_s = hard_limit_s
        self._preload = preload
        self._cache_size = cache_size
        self._start_timeout_s = start_timeout_s
        # Longer documents get the AST answer only: Jedi would run into the hard limit on
        # them again and again, and every kill costs a respawn with its preload.
        self._max_jedi_chars = max_jedi_chars
        self._cache: OrderedDict[tuple[str, int], Completion] = OrderedDict()
        # AST answers given while Jedi's job for the same request still runs.
        self._provisional: OrderedDict[tuple[str, int], Completion] = OrderedDict()
        self._jobs: dict[tuple[str, int], Job] = {}
        # The latest requests (their jobs, or the answers derived from one): the next
        # keystroke's request may only extend the word one of them was completing.
        self._recent: deque[Job] = deque(maxlen=_RECENT_SIZE)
        self._latest: dict[str, _Request] = {}
        roles: tuple[Role, ...] = ("jedi", "ast")
        self._lanes: dict[Role, Lane] = {
            role: Lane(
                role,
                preload=preload,
                start_timeout_s=start_timeout_s,
                hard_limit_s=lambda: self.hard_limit_s,
                settled=self._combine,
                refused=lambda job: self._finish(job, "bad_position", None),
            )
            for role in roles
        }
        self._queries: set[Query] = set()
        self._project_dir: str | None = None
        self._started = False
        self._starting = False
        self._next_id = 0
        # Counters for tests, metrics and the benchmark.
        self.stats: dict[str, int] = {
            "requests": 0,
            "cache_hits": 0,
            "jedi": 0,
            "ast": 0,
            "stale": 0,
            "derived": 0,
            "queries": 0,
        }

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Spawn both workers; returns when they have preloaded and dropped privileges
        (seconds: the preload runs Jedi on common modules). Requests made meanwhile get the
        AST answer, so a server may run this in the background."""
        if self._started or self._starting:
            return
        self._starting = True
        try:
            # An empty directory as Jedi's project root: nothing in it to find.
            self._project_dir = tempfile.mkdtemp(prefix="pairpad-jedi-")
            for lane in self._lanes.values():
                lane.project_dir = self._project_dir
            try:
                await asyncio.gather(*(lane.spawn() for lane in self._lanes.values()))
            except BaseException:
                await self.close()
                raise
            for lane in self._lanes.values():
                lane.dispatcher = asyncio.create_task(lane.dispatch())
            self._started = True
        finally:
            self._starting = False

    async def close(self) -> None:
        """Stop both workers (no process outlives this); pending requests return None."""
        self._started = False
        for lane in self._lanes.values():
            if lane.dispatcher is not None:
                lane.dispatcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await lane.dispatcher
                lane.dispatcher = None
            await lane.stop()
        for job in list(self._jobs.values()):
            self._finish(job, "dropped", None)
        for query in list(self._queries):
            if not query.result.done():
                query.result.set_result(None)
        if self._project_dir is not None:
            shutil.rmtree(self._project_dir, ignore_errors=True)
            shutil.rmtree(stubs_directory(self._project_dir), ignore_errors=True)
            self._project_dir = None

    @property
    def worker_pid(self) -> int | None:
        """The Jedi worker's process id (None when not running)."""
        return self._lanes["jedi"].pid

    @property
    def worker_pids(self) -> dict[str, int | None]:
        return {role: lane.pid for role, lane in self._lanes.items()}

    @property
    def respawns(self) -> int:
        return sum(lane.respawns for lane in self._lanes.values())

    async def drain(self) -> None:
        """Wait until no job is pending (Jedi's late answers included): for benchmarks and
        tests that want to measure or observe an idle engine."""
        while self._jobs:
            await asyncio.wait([job.done for job in self._jobs.values()])

    # -- the API -------------------------------------------------------------------------

    async def complete(
        self, code: str, position: int, *, key: str | None = None,
        deadline_s: float | None = None,
    ) -> Completion | None:
        """Completions at UTF-16 `position` of `code`, or None if superseded (same `key`).
        `deadline_s` replaces the engine's deadline for this request (how long to wait for
        Jedi before the AST answer); Jedi's hard limit still applies.

        Raises ValueError when `position` is outside `0..len` or splits a surrogate pair.
        """
        deadline = self.deadline_s if deadline_s is None else deadline_s
        _check_position(code, position)
        if not self._started:
            if not self._starting:
                raise RuntimeError("CompletionEngine is not started")
            self.stats["ast"] += 1
            return await self._local_answer(code, position)
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
            provisional = self._provisional.get((code, position))
            if provisional is not None and (code, position) in self._jobs \
                    and deadline <= self.deadline_s:
                # Asked again while Jedi still works on it: the AST answer again, at once
                # (a caller that would wait longer waits for that job instead).
                self.stats["cache_hits"] += 1
                self._log(started, "provisional")
                return provisional
            base = self._typed_on(code, position)
            if base is not None:
                derived = await self._derive(base, code, position, request, started, deadline)
                if not isinstance(derived, _Underived):
                    return derived
            job = self._job_for(code, position)
            job.waiters += 1
            try:
                return await self._await(job, request, started, deadline)
            finally:
                job.waiters -= 1
        finally:
            if key is not None and self._latest.get(key) is request:
                del self._latest[key]

    # -- language intelligence (docs/protocol.md "Language") -----

    async def diagnostics(self, code: str) -> list[Diagnostic] | None:
        """`code`'s syntax error or pyflakes' findings, from the AST worker; None when the
        worker failed or ran past its limit (or the engine is still starting)."""
        answer = await self._query("ast", "diagnostics", code, 0, None)
        if answer is None:
            return None
        return [Diagnostic(**item) for item in answer]

    async def signatures(
        self, code: str, position: int, *, key: str | None = None
    ) -> list[Signature]:
        """The calls around UTF-16 `position`; [] when none, or superseded (same `key`).
        Raises ValueError for a position outside the code, as `complete`."""
        answer = await self._query("jedi", "signatures", code, position, key)
        return [
            Signature(item["label"], [Parameter(**p) for p in item["parameters"]],
                      item["active_parameter"], item["documentation"])
            for item in answer or []
        ]

    async def hover(self, code: str, position: int, *, key: str | None = None) -> Hover | None:
        """What the name at `position` is; None off a name, or superseded (same `key`)."""
        answer = await self._query("jedi", "hover", code, position, key)
        return None if answer is None else Hover(**answer)

    async def definition(
        self, code: str, position: int, *, key: str | None = None
    ) -> Definition | None:
        """Where the name at `position` is defined; None when unknown or superseded."""
        answer = await self._query("jedi", "definition", code, position, key)
        return None if answer is None else Definition(**answer)

    async def _query(
        self, role: Role, kind: str, code: str, position: int, key: str | None
    ) -> Any:
        _check_position(code, position)
        if not self._started:
            if not self._starting:
                raise RuntimeError("CompletionEngine is not started")
            return None
        if role == "jedi" and len(code) > self._max_jedi_chars:
            return None  # as for completions: Jedi would only run into its hard limit
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.stats["queries"] += 1
        request = _Request()
        latest = None if key is None else f"{kind}:{key}"
        if latest is not None:
            older = self._latest.get(latest)
            if older is not None and not older.stale.done():
                older.stale.set_result(None)
            self._latest[latest] = request
        self._next_id += 1
        line = {"id": self._next_id, "kind": kind, "code": code, "position": position}
        query = Query(self._next_id, json.dumps(line, ensure_ascii=True).encode("ascii") + b"\n",
                      loop.create_future())
        lane = self._lanes[role]
        self._queries.add(query)
        lane.queue.put_nowait(query)
        try:
            # Bounded: the lane settles it within its hard limit once it is sent; a long
            # queue in front of it gets as long again.
            awaited: set[asyncio.Future[Any]] = {query.result, request.stale}
            await asyncio.wait(awaited, timeout=2 * lane.hard_limit_s,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            query.waiters = 0  # still queued: the lane skips it
            self._queries.discard(query)
            if latest is not None and self._latest.get(latest) is request:
                del self._latest[latest]
        message = query.result.result() if query.result.done() else None
        self._log(started, kind if message is not None else f"{kind}_none")
        if message is None:
            return None
        if message["type"] == "error":
            if message.get("code") == "bad_position":
                raise ValueError(f"position {position} is not a valid UTF-16 offset")
            return None
        return message["answer"]

    def _typed_on(self, code: str, position: int) -> Job | None:
        """A recent request that `code` only extends by word characters typed at its cursor
        (the usual next keystroke), or None. ASCII documents only: their offsets are indexes,
        so this check stays a few string comparisons on the event loop."""
        if not code.isascii():
            return None
        for base in reversed(self._recent):
            previous, at = base.code, base.position
            typed = len(code) - len(previous)
            if not (0 < typed <= _MAX_TYPED and position == at + typed):
                continue
            if (
                _WORD.fullmatch(code, at, position)
                and code.startswith(previous[:at])
                and code.endswith(previous[at:])
            ):
                return base
        return None

    async def _derive(
        self, base: Job, code: str, position: int, request: _Request, started: float,
        deadline: float,
    ) -> Completion | _Underived | None:
        """The answer for `code` from `base`'s, when only the word at the cursor grew: Jedi's
        list for the shorter word, filtered by the longer one (as Jedi filters: a prefix,
        ignoring case), and the same symbols (the word at the cursor is never one). Waits for
        `base` if it is still running rather than queueing a second Jedi run behind it."""
        loop = asyncio.get_running_loop()
        base.waiters += 1  # keeps `base` from being dropped while queued
        try:
            remaining = max(0.0, deadline - (loop.time() - started))
            awaited: set[asyncio.Future[Any]] = {base.done, request.stale}
            await asyncio.wait(awaited, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        finally:
            base.waiters -= 1
        if request.stale.done():
            self.stats["stale"] += 1
            self._log(started, "stale")
            return None
        if not base.done.done():
            # Still running at the deadline: the AST answer from its symbols.
            phase1 = base.phase1.result() if base.phase1.done() else None
            if phase1 is None:
                return _UNDERIVED
            cursor = cursor_at(code, position, position)
            self.stats["ast"] += 1
            self._log(started, "ast")
            return Completion(cursor.from_, ast_suggestions(phase1.symbols, cursor), phase1.symbols,
                              incomplete=True)
        outcome, answer = base.done.result()
        if outcome != "jedi" or answer is None:
            return _UNDERIVED
        prefix = code[answer.from_ : position]
        if not (answer.from_ <= base.position and _WORD.fullmatch(prefix)):
            return _UNDERIVED
        wanted = prefix.lower()
        suggestions = [s for s in answer.suggestions if s.label.lower().startswith(wanted)]
        completion = Completion(answer.from_, suggestions, answer.symbols)
        self._remember_derived(code, position, completion, base)
        self.stats["derived"] += 1
        self._log(started, "derived")
        return completion

    def _remember_derived(
        self, code: str, position: int, completion: Completion, base: Job
    ) -> None:
        # A finished job in all but name, so that the next keystroke can derive from it.
        loop = asyncio.get_running_loop()
        done: asyncio.Future[tuple[Outcome, Completion | None]] = loop.create_future()
        done.set_result(("jedi", completion))
        jedi: asyncio.Future[tuple[int, list[list[Any]]] | None] = loop.create_future()
        jedi.set_result(None)
        job = Job(0, code, position, b"", base.phase1, jedi, done)
        self._recent.append(job)
        self._cache[(code, position)] = completion
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def _await(self, job: Job, request: _Request, started: float,
                     deadline: float) -> Completion | None:
        loop = asyncio.get_running_loop()
        remaining = max(0.0, deadline - (loop.time() - started))
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
        # Late, failed or killed: the AST answer. When Jedi failed early, the symbols may
        # still be on their way: wait for them as long as the deadline allows.
        remaining = max(0.0, deadline - (loop.time() - started))
        if not job.phase1.done() and remaining > 0:
            awaited = {job.phase1, request.stale}
            await asyncio.wait(awaited, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        answer = await self._ast_answer(job)
        if request.stale.done():
            self.stats["stale"] += 1
            return None
        if not job.done.done():
            self._provisional[(job.code, job.position)] = answer
            while len(self._provisional) > _PROVISIONAL_SIZE:
                self._provisional.popitem(last=False)
        self.stats["ast"] += 1
        self._log(started, "ast")
        return answer

    async def _ast_answer(self, job: Job) -> Completion:
        phase1 = job.phase1.result() if job.phase1.done() else None
        if phase1 is not None:
            suggestions = ast_suggestions(phase1.symbols, phase1.cursor)
            return Completion(phase1.cursor.from_, suggestions, phase1.symbols, incomplete=True)
        # Neither worker got to it (respawning, jammed).
        return await self._local_answer(job.code, job.position)

    async def _local_answer(self, code: str, position: int) -> Completion:
        """The AST answer computed here, in a thread, if the document is small; else builtins
        and keywords only, without symbols (a long parse would hold the GIL)."""
        if len(code) <= _LOCAL_PARSE_LIMIT:
            return await asyncio.to_thread(ast_completion, code, position)
        return await asyncio.to_thread(bare_completion, code, position)

    def _log(self, started: float, source: str) -> None:
        # Timings only: never the code.
        if log.isEnabledFor(logging.DEBUG):
            elapsed = (asyncio.get_running_loop().time() - started) * 1000
            log.debug("event=completion.answer source=%s ms=%.2f", source, elapsed)

    # -- jobs ----------------------------------------------------------------------------

    def _job_for(self, code: str, position: int) -> Job:
        job = self._jobs.get((code, position))
        if job is None:
            loop = asyncio.get_running_loop()
            self._next_id += 1
            request = {"id": self._next_id, "code": code, "position": position}
            job = Job(
                self._next_id,
                code,
                position,
                json.dumps(request, ensure_ascii=True).encode("ascii") + b"\n",
                loop.create_future(),
                loop.create_future(),
                loop.create_future(),
            )
            self._jobs[(code, position)] = job
            self._recent.append(job)
            if len(code) > self._max_jedi_chars:
                job.jedi.set_result(None)
                self._lanes["ast"].queue.put_nowait(job)
            else:
                for lane in self._lanes.values():
                    lane.queue.put_nowait(job)
        return job

    def _combine(self, job: Job) -> None:
        """Finish `job` once its lanes have answered: Jedi's items with the AST symbols."""
        if job.done.done() or not job.jedi.done():
            return
        jedi = job.jedi.result()
        if jedi is None:
            self._finish(job, "failed", None)
            return
        if not job.phase1.done():
            return  # the symbols come next
        phase1 = job.phase1.result()
        from_, items = jedi
        suggestions = [Suggestion(label, kind, detail, "jedi") for label, kind, detail in items]
        symbols = phase1.symbols if phase1 is not None else Symbols.empty()
        completion = Completion(from_, suggestions, symbols)
        if phase1 is not None:
            self._remember(job, completion)
        self._finish(job, "jedi", completion)

    def _remember(self, job: Job, completion: Completion) -> None:
        self._provisional.pop((job.code, job.position), None)
        self._cache[(job.code, job.position)] = completion
        self._cache.move_to_end((job.code, job.position))
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _finish(self, job: Job, outcome: Outcome, completion: Completion | None) -> None:
        if self._jobs.get((job.code, job.position)) is job:
            del self._jobs[(job.code, job.position)]
        if not job.done.done():
            job.done.set_result((outcome, completion))


def _check_position(code: str, position: int) -> None:
    """Cheap bounds check on the loop; a non-ASCII document's exact check (surrogate pairs)
    happens off the loop, in a worker or in the fallback parse."""
    if position < 0:
        raise ValueError(f"position {position} is negative")
    limit = len(code) if code.isascii() else 2 * len(code)
    if position > limit:
        raise ValueError(f"position {position} is past the end of the code")
