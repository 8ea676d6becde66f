"""Fixtures shared by the core tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from editor_core.completion import CompletionEngine


@pytest_asyncio.fixture(scope="module")
async def engine() -> AsyncIterator[CompletionEngine]:
    """One completion engine per test module. A deadline no run reaches: tests that use it
    check Jedi's answers, not timing."""
    engine = CompletionEngine(deadline_s=120.0, hard_limit_s=120.0, preload=False)
    await engine.start()
    yield engine
    await engine.close()
