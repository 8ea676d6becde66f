"""The editor's end line of a run (static/src/run_summary.js, docs/editor.md "Run results"),
run under node: one process answers every case, as `runSummary(result, limits)` with the
clock in UTC."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

MODULE = Path(__file__).resolve().parents[2] / "static" / "src" / "run_summary.js"

LIMITS = {"runTimeoutMs": 10_000, "runOutputBytes": 65_536}
BASE: dict[str, Any] = {
    "status": "ok", "reason": None, "limit": None, "output": "", "stdout": "", "stderr": "",
    "exitCode": 0, "durationMs": 9, "truncated": False, "runId": "r1", "version": 136,
    "clientId": "a", "name": "Alice", "startedAt": "2026-01-02T12:04:31.250Z",
    "finishedAt": "2026-01-02T12:04:32.000Z", "stoppedBy": None,
}
# (what differs from BASE, the end line expected)
CASES: list[tuple[dict[str, Any], str]] = [
    ({}, "Finished · 9 ms · ran the code as of 12:04:31 · run by Alice"),
    ({"status": "stopped", "reason": "stopped", "stoppedBy": "Bob", "exitCode": -9,
      "durationMs": 1234}, "Stopped by Bob · 1.23 s · ran the code as of 12:04:31 · run by Alice"),
    ({"status": "stopped", "reason": "stopped", "exitCode": None}, "Stopped · 9 ms"),
    ({"status": "timeout", "reason": "wall_limit", "limit": 10}, "Timed out after 10 s"),
    ({"status": "killed", "reason": "cpu_limit", "limit": 2.5}, "CPU time limit (2.5 s) reached"),
    ({"status": "killed", "reason": "memory_limit", "limit": 256 * 2**20, "exitCode": 1},
     "Memory limit (256 MiB) reached"),
    ({"status": "killed", "reason": "output_limit", "limit": 65_536, "truncated": True},
     "Output limit reached: first 64 KiB shown"),
    ({"status": "error", "reason": "exception", "exitCode": 1}, "Error: uncaught exception"),
    ({"status": "error", "reason": "exit", "exitCode": 3}, "Exited with code 3"),
    ({"status": "tests_failed", "reason": "tests_failed", "exitCode": 1}, "Tests failed"),
    ({"status": "killed", "reason": "sandbox_failure", "exitCode": None},
     "The sandbox failed (not your program); try again"),
    ({"status": "killed", "reason": "a_newer_reason"}, "killed: a_newer_reason"),
    # Results without `reason` (stored before it existed) say what status and limits tell.
    ({"reason": None, "status": "killed", "truncated": True, "exitCode": -9},
     "Output limit reached: first 64 KiB shown"),
    ({"status": "timeout"}, "Timed out after 10 s"),
    ({"status": "error", "exitCode": 1}, "Error · "),
    ({"status": "error", "exitCode": 2}, "Error (exit code 2)"),
    ({"status": "stopped", "stoppedBy": "Bob"}, "Stopped by Bob"),
    ({"status": "killed", "exitCode": -9}, "Killed: a memory or CPU limit, or the sandbox failed"),
    # Runs stored before `startedAt` existed name their version.
    ({"startedAt": None, "stoppedBy": None}, "Finished · 9 ms · version 136 · run by Alice"),
]

SCRIPT = """
import { runSummary } from %s;
const cases = JSON.parse(process.argv[1]);
console.log(JSON.stringify(cases.map(([result, limits]) => runSummary(result, limits))));
"""


def summaries(cases: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[str]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (CI installs it)")
    script = SCRIPT % json.dumps(MODULE.as_uri())
    done = subprocess.run(
        [node, "--input-type=module", "-e", script, json.dumps(cases)],
        capture_output=True, text=True, timeout=60, check=True,
        env={**os.environ, "TZ": "UTC"},
    )
    answers: list[str] = json.loads(done.stdout)
    return answers


def test_the_end_line_says_what_ended_the_run() -> None:
    answers = summaries([({**BASE, **change}, LIMITS) for change, _ in CASES])
    for (change, expected), answer in zip(CASES, answers, strict=True):
        assert answer.startswith(expected), (change, answer)


def test_without_limits_the_fallback_still_names_the_ending() -> None:
    [timeout, truncated] = summaries([
        ({**BASE, "status": "timeout"}, {}),
        ({**BASE, "status": "killed", "truncated": True}, {}),
    ])
    assert timeout.startswith("Timed out · ")
    assert truncated.startswith("Output limit reached: the rest was cut · ")
