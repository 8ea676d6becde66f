"""One log format everywhere: `event=name key=value ...` (server/logs.py). An AST scan, so a
log call that drifts back to prose fails here without running the code path that logs it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("server", "editor_core")
LEVELS = {"debug", "info", "warning", "error", "exception", "critical"}
# `event=` then a dotted lower-case name (a `%s` part is allowed: `event=ws.%s`), then the end or
# a space before the key=value pairs.
EVENT = re.compile(r"^event=[a-z][a-z0-9_]*(\.([a-z0-9_]+|%s))*( |$)")


def logger_names(tree: ast.Module) -> set[str]:
    """Names bound to `logging.getLogger(...)` in a module (`log`, `logger`)."""
    names = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)
                and node.value.func.attr == "getLogger"):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names | {"logging"}


def log_messages(path: Path) -> list[tuple[int, ast.expr]]:
    """(line, first argument) of every `<logger>.<level>(...)` call in the file."""
    tree = ast.parse(path.read_text(), str(path))
    loggers = logger_names(tree)
    return [
        (node.lineno, node.args[0])
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and node.func.attr in LEVELS and isinstance(node.func.value, ast.Name)
        and node.func.value.id in loggers and node.args
    ]


def follows_format(message: ast.expr) -> bool:
    # A literal, so the format is visible here (no f-strings: they would also defeat lazy
    # %-formatting and make it easy to interpolate a user's code).
    return (isinstance(message, ast.Constant) and isinstance(message.value, str)
            and EVENT.match(message.value) is not None)


def test_every_log_call_starts_with_an_event_name() -> None:
    calls = {f: log_messages(f) for p in PACKAGES for f in sorted((ROOT / p).rglob("*.py"))}
    assert sum(map(len, calls.values())) > 40  # the scan finds the calls it is meant to check
    offenders = [
        f"{f.relative_to(ROOT)}:{line}: {ast.unparse(message)}"
        for f, found in calls.items() for line, message in found
        if not follows_format(message)
    ]
    assert offenders == []


def test_the_scan_catches_prose_and_f_strings(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import logging\nlog = logging.getLogger('x')\n"
        "log.info('event=room.created room=%s', 1)\n"
        "log.warning('run %s finished', 1)\n"
        "log.error(f'event=x {1}')\n"
        "other.info('not a logger')\n"
    )
    found = log_messages(sample)
    assert [line for line, _ in found] == [3, 4, 5]
    assert [follows_format(message) for _, message in found] == [True, False, False]
