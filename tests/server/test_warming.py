"""The server answers completions at once while the Jedi engine is still starting."""

from __future__ import annotations

import asyncio

import pytest

from editor_core.completion import Completion, Symbols
from server.warming import WarmingCompleter
from tests.server.fakes import FakeCompleter


class SlowEngine(FakeCompleter):
    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.closed = False

    async def start(self) -> None:
        await self.release.wait()

    async def close(self) -> None:
        self.closed = True

    async def complete(self, code: str, position: int, *, key: str | None = None,
                       deadline_s: float | None = None) -> Completion | None:
        return Completion(position, [], Symbols.empty())


async def test_ast_answers_until_the_engine_is_ready() -> None:
    engine = SlowEngine()
    warming = WarmingCompleter(engine)
    await warming.start()
    code = "import math\nvalue = 1\nval"
    early = await warming.complete(code, len(code))
    assert early is not None
    assert early.from_ == len(code) - 3
    assert "value" in [s.label for s in early.suggestions]
    assert {s.source for s in early.suggestions} == {"ast"}
    assert early.symbols.imports == ["math"]
    assert early.incomplete
    with pytest.raises(ValueError, match="past the end"):
        await warming.complete(code, len(code) + 1)
    assert not warming.ready
    engine.release.set()
    async with asyncio.timeout(5):
        assert await warming.wait_ready()
    late = await warming.complete(code, 3)
    assert late is not None
    assert late.suggestions == []  # now the engine answers
    await warming.close()
    assert engine.closed


async def test_close_while_starting_cancels_the_start() -> None:
    engine = SlowEngine()
    warming = WarmingCompleter(engine)
    await warming.start()
    await warming.close()
    assert engine.closed
    assert not warming.ready


async def test_a_deadline_waits_for_the_engine_to_be_ready() -> None:
    engine = SlowEngine()
    warming = WarmingCompleter(engine)
    await warming.start()
    waiting = asyncio.create_task(warming.complete("x", 1, deadline_s=60.0))
    engine.release.set()  # the engine becomes ready only after the request was made
    async with asyncio.timeout(5):
        answer = await waiting
    assert answer is not None
    assert not answer.incomplete  # the engine's answer, not the AST's
    # A zero deadline never waits.
    await warming.close()
    again = WarmingCompleter(SlowEngine())
    await again.start()
    quick = await again.complete("x", 1, deadline_s=0.0)
    assert quick is not None
    assert quick.incomplete
    await again.close()
