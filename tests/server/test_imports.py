"""The server process imports only what it serves with (docs/performance-collab.md "Idle
connections"): Jedi and RestrictedPython live in the workers, parso in the AST fallback and
redis in a cluster; each would cost every process megabytes of resident memory."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("jedi", "parso", "RestrictedPython", "redis")


def loaded_after(statement: str) -> list[str]:
    """The HEAVY packages loaded by `statement` in a fresh interpreter."""
    probe = (f"import json, sys\n{statement}\n"
             f"print(json.dumps(sorted(p for p in {HEAVY!r} if p in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=120)
    loaded: list[str] = json.loads(out.stdout.splitlines()[-1])
    return loaded


def test_the_server_app_and_cli_load_no_worker_or_cluster_package() -> None:
    assert loaded_after("import server.app, server.cli") == []


def test_the_fallback_and_the_cluster_still_load_theirs_on_use() -> None:
    # Proves the probe sees a lazily imported package: the first parse loads parso.
    assert loaded_after("from editor_core.completion.symbols import parse; parse('x = 1')") \
        == ["parso"]
    assert loaded_after("import server.cluster") == ["redis"]
