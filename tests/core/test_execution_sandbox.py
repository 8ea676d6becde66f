"""The escape and DoS corpus (tests/core/sandbox_corpus/*.py.txt) against a real service.

Every attempt must be blocked or contained: the expected status, nothing of the machine in
the output, the service still serving, and no process left behind — neither the run's own
child (its pid, from the log) nor anything else under the fork server.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from editor_core.execution import ExecutionLimits, ExecutionService
from tests.core.sandbox_corpus import Attack, children_of, is_alive, load_corpus

# The wall leaves room for a nice-19 child on a busy machine; the endless programs pay it.
LIMITS = ExecutionLimits(wall_time_s=2.5, cpu_time_s=2, output_bytes=8192)
SECRET = "pairpad-corpus-secret-4f1c"
# What must never show in a run's output: escapes announce themselves, and nothing of the
# host (files, environment, our paths) may leak into a result.
FORBIDDEN = ("ESCAPED", "root:x:0:0", SECRET, "/root/", "/work/", "editor_core", "site-packages")
_PID = re.compile(r"pid=(\d+)")


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def service() -> AsyncIterator[ExecutionService]:
    # In the server's environment, not the sandbox's: the corpus looks for it.
    os.environ["PAIRPAD_CORPUS_SECRET"] = SECRET
    svc = ExecutionService(LIMITS)
    await svc.start()
    yield svc
    await svc.close()
    del os.environ["PAIRPAD_CORPUS_SECRET"]


@pytest.mark.parametrize("attack", load_corpus(), ids=lambda attack: attack.name)
async def test_attack_is_blocked_or_contained(
    service: ExecutionService, attack: Attack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pairpad.execution")
    result = await service.run(attack.code, run_id=f"corpus-{attack.name}")

    assert result.status in attack.statuses, result
    for text in attack.contains:
        assert text in result.output, result
    for text in FORBIDDEN:
        assert text not in result.output, result

    finished = [r.getMessage() for r in caplog.records if "corpus-" + attack.name in r.getMessage()]
    pids = [int(m.group(1)) for line in finished if (m := _PID.search(line))]
    assert pids, finished
    assert not any(is_alive(pid) for pid in pids)
    server_pid = service.fork_server_pid
    assert server_pid is not None
    assert children_of(server_pid) == []

    after = await service.run("print('still serving')")
    assert (after.status, after.output) == ("ok", "still serving\n")


async def test_network_and_file_system_are_out_of_sight_when_root(
    service: ExecutionService,
) -> None:
    if os.geteuid() != 0:
        pytest.skip("network namespaces and chroot need root")
    assert service.network_isolated
    assert service.filesystem_hidden
