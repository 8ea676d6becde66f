"""The layering of docs/architecture.md "Layering", checked on the source with `ast`.

Dependencies point one way: server → editor_core → stdlib, jedi, parso, RestrictedPython.
Within editor_core every module is pure (no I/O, no concurrency, no clock) except the I/O
adapters listed by name in `ADAPTERS`: the modules are found by walking the tree, so a new
module is pure unless someone lists it here on purpose.
"""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "editor_core"

# No module of editor_core, adapter or not, imports a framework or the server.
FORBIDDEN = {"starlette", "uvicorn", "aiosqlite", "asyncpg", "server", "pydantic", "websockets",
             "httpx"}

# What a pure module may not import: what touches the world outside the values it is given.
IO_MODULES = {
    # files, processes, the machine
    "os", "pathlib", "shutil", "tempfile", "glob", "io", "fcntl", "mmap", "resource",
    "ctypes", "signal", "subprocess", "multiprocessing", "pty", "importlib", "pkgutil",
    # network and storage
    "socket", "ssl", "select", "selectors", "http", "urllib", "sqlite3",
    # concurrency: the core is synchronous, its callers decide what runs where
    "asyncio", "threading", "_thread", "concurrent", "queue",
    # time is a parameter (an injected clock); reporting is the adapter's job, not the core's
    "time", "logging",
}  # fmt: skip

# `sys` is the interpreter as well as its streams: a pure module may read these facts only.
SYS_FACTS = {"getsizeof", "implementation", "maxsize", "maxunicode", "byteorder", "version_info"}

# Builtins that do I/O without an import.
IO_BUILTINS = {"open", "print", "input", "breakpoint"}

# The I/O adapters, each with what makes it one. A module joins this list on purpose, in the
# same change that makes it do I/O; a module that no longer does any leaves it.
ADAPTERS = {
    # the sandbox (docs/architecture.md "Layering")
    "editor_core.execution": "re-exports the execution service",
    "editor_core.execution.service": "runs the fork server from asyncio, reads run output",
    "editor_core.execution.forkserver_client": "starts the fork server process, talks on a socket",
    "editor_core.execution.forkserver": "the fork server process: forks a child per run",
    "editor_core.execution.child": "the sandboxed child: raises its walls, writes to its pipe",
    "editor_core.execution.walls": "the child's process walls: session, fds, rlimits, uid",
    "editor_core.execution.streams": "the child's stdout/stderr/stdin over its pipe",
    "editor_core.execution.output": "reads a run's pipe on the event loop",
    "editor_core.execution.policy": "the child's globals: a sys over its streams",
    "editor_core.execution.modules": "the modules a program may import (io, time included)",
    "editor_core.execution.stand_ins": "traceback/warnings for the child: its stack, stderr",
    # autocomplete
    "editor_core.completion": "re-exports the completion engine",
    "editor_core.completion.engine": "asyncio front of the Jedi worker, its scratch folder",
    "editor_core.completion.lane": "one Jedi worker process and its pipe",
    "editor_core.completion.worker": "the Jedi worker process: reads requests on stdin",
    "editor_core.completion.confinement": "confines Jedi: paths, stubs folder, import hooks",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(tree: ast.Module, package: str) -> set[str]:
    """Every module `tree` imports (anywhere in it), as absolute dotted names; `package` is
    the one relative imports start from."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0]
                base = f"{anchor}.{base}" if base else anchor
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}  # may be a submodule
    return names


def impurities(tree: ast.Module, package: str) -> list[str]:
    """What makes a module an I/O one: I/O imports, adapter imports, `sys` beyond its
    facts, I/O builtins."""
    found = set()
    for name in imported_names(tree, package):
        if name.split(".")[0] in IO_MODULES:
            found.add(f"import {name.split('.')[0]}")
        elif name in ADAPTERS:
            found.add(f"import {name} (an adapter)")
        elif name.startswith("sys.") and name[4:] not in SYS_FACTS:
            found.add(f"from sys import {name[4:]}")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "sys"
            and node.attr not in SYS_FACTS
        ):
            found.add(f"sys.{node.attr}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in IO_BUILTINS
        ):
            found.add(f"{node.func.id}()")
    return sorted(found)


def core_modules() -> dict[str, tuple[ast.Module, str]]:
    """Each module of editor_core: its syntax tree and the package its relative imports
    start from."""
    modules = {}
    for path in sorted(CORE.rglob("*.py")):
        name = module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        modules[name] = (ast.parse(path.read_text(), str(path)), package)
    assert len(modules) > 20
    return modules


def test_editor_core_imports_no_io_framework() -> None:
    offenders = {
        name: sorted({imported.split(".")[0] for imported in imported_names(*module)} & FORBIDDEN)
        for name, module in core_modules().items()
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_pure_modules_do_no_io() -> None:
    pure = {name: module for name, module in core_modules().items() if name not in ADAPTERS}
    assert "editor_core.changeset" in pure
    offenders = {name: impurities(*module) for name, module in pure.items()}
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_adapters_are_listed_on_purpose() -> None:
    # Every listed adapter exists and does I/O; one that no longer does is pure: unlist it.
    modules = core_modules()
    assert sorted(set(ADAPTERS) - set(modules)) == []
    assert [name for name in sorted(ADAPTERS) if not impurities(*modules[name])] == []


def test_the_rule_sees_io() -> None:
    source = """
import socket
from .engine import CompletionEngine
from sys import stdout
import sys
sys.exit(print(open("f").read()))
n = sys.getsizeof("")
"""
    assert impurities(ast.parse(source), "editor_core.completion") == [
        "from sys import stdout",
        "import editor_core.completion.engine (an adapter)",
        "import socket",
        "open()",
        "print()",
        "sys.exit",
    ]
