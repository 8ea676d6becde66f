"""Tests that need a system program (redis-server, nginx, PostgreSQL) skip with the reason
when it is missing on a developer's machine, and fail under CI, where skipping would hide
that they never ran (as the browser tests do with Chromium)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(what: str, package: str) -> NoReturn:
    reason = f"{what} is missing (Debian: apt-get install {package}; scripts/test installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}, and CI must not skip the tests that need it")
    pytest.skip(reason)
