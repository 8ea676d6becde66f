"""Dependencies point one way: server → editor_core → stdlib, jedi, parso, RestrictedPython
(STYLE.md "The shape of this house")."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "editor_core"
FORBIDDEN = {"starlette", "uvicorn", "aiosqlite", "server", "pydantic", "websockets", "httpx"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_editor_core_imports_no_io_framework() -> None:
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 3
    offenders = {str(f.relative_to(CORE)): sorted(imported_roots(f) & FORBIDDEN) for f in files}
    assert {f: bad for f, bad in offenders.items() if bad} == {}
