"""Serve at once while Jedi warms up.

The completion engine preloads Jedi's view of the standard library before its first answer,
which takes seconds (tens of seconds on a loaded machine). Collaboration must not wait for
that: the server starts the engine in the background and, until it is ready, answers with
the engine's own AST fallback (the same answer it gives when Jedi misses its deadline).
Meanwhile diagnostics of a small document are computed in a thread; signatures, hover and
definitions (Jedi only) answer nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from editor_core.completion import Completion
from editor_core.completion.diagnostics import diagnose
from editor_core.completion.fallback import ast_completion
from editor_core.completion.model import Definition, Diagnostic, Hover, Signature
from editor_core.positions import utf16_to_index
from server.services import Completer

log = logging.getLogger("pairpad.completion")

# Above this size, no diagnostics until the workers are up: pyflakes in a thread of the
# server process holds the GIL for the event loop's time.
_LOCAL_DIAGNOSE_LIMIT = 20_000


class WarmingCompleter:
    def __init__(self, engine: Completer) -> None:
        self.engine = engine
        self._starting: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        task = self._starting
        return task is not None and task.done() and not task.cancelled() \
            and task.exception() is None

    async def wait_ready(self) -> bool:
        """Wait until the engine has started (or failed to); True when it is ready."""
        if self._starting is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._starting)
        return self.ready

    async def start(self) -> None:
        self._starting = asyncio.create_task(self._start(), name="completion-start")

    async def _start(self) -> None:
        started = asyncio.get_running_loop().time()
        try:
            await self.engine.start()
        except Exception:
            log.exception("event=completion.start_failed (AST answers only)")
            raise
        log.info("event=completion.ready ms=%.0f",
                 (asyncio.get_running_loop().time() - started) * 1000)

    async def close(self) -> None:
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
        if self._starting is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._starting
        await self.engine.close()

    async def complete(self, code: str, position: int, *, key: str | None = None,
                       deadline_s: float | None = None) -> Completion | None:
        """The engine's answer once it is ready; before, the AST answer (`incomplete`), unless
        `deadline_s` lets the caller wait for the engine to become ready and answer."""
        if not self.ready and deadline_s and self._starting is not None:
            started = asyncio.get_running_loop().time()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(deadline_s):
                    await self.wait_ready()
            deadline_s = max(0.0, deadline_s - (asyncio.get_running_loop().time() - started))
        if self.ready:
            return await self.engine.complete(code, position, key=key, deadline_s=deadline_s)
        return ast_completion(code, position)  # ValueError for a bad position, as the engine

    async def diagnostics(self, code: str) -> list[Diagnostic] | None:
        if self.ready:
            return await self.engine.diagnostics(code)
        if len(code) > _LOCAL_DIAGNOSE_LIMIT:
            return None
        return await asyncio.to_thread(diagnose, code)

    async def signatures(self, code: str, position: int, *,
                         key: str | None = None) -> list[Signature]:
        if self.ready:
            return await self.engine.signatures(code, position, key=key)
        _check(code, position)
        return []

    async def hover(self, code: str, position: int, *, key: str | None = None) -> Hover | None:
        if self.ready:
            return await self.engine.hover(code, position, key=key)
        _check(code, position)
        return None

    async def definition(self, code: str, position: int, *,
                         key: str | None = None) -> Definition | None:
        if self.ready:
            return await self.engine.definition(code, position, key=key)
        _check(code, position)
        return None


def _check(code: str, position: int) -> None:
    """ValueError for a position outside the code, as the engine raises."""
    utf16_to_index(code, position)
