"""What a forked child does: read its program, raise its walls, run the program, report.

Runs in the fork server's child after `fork()` and never returns (`os._exit`): no atexit
handler, finalizer or buffered stream of the fork server runs in it. Exit codes: the
program's own (0, 1, or `sys.exit(n)`), or `EXIT_MACHINERY` if a wall could not be raised.
The verdict frame, written last, is the reason the program ended as it did (see
`result.CHILD_REASONS`), or None when it ended well.
"""

from __future__ import annotations

import ast
import json
import os
import random
import sys
import traceback
import types
from collections.abc import Mapping
from typing import NoReturn

from RestrictedPython.compile import compile_restricted_exec

from editor_core.execution import framing
from editor_core.execution.policy import FILENAME, build_globals
from editor_core.execution.streams import OutputSink, UserInput, UserOutput
from editor_core.execution.testing import TestFacts
from editor_core.execution.transformer import PolicyTransformer
from editor_core.execution.user_traceback import (
    format_exception,
    format_policy_errors,
    remember_source,
)
from editor_core.execution.walls import PIPE_FD, Walls, raise_walls

EXIT_MACHINERY = framing.EXIT_MACHINERY


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def main(
    walls: Walls,
    output_bytes: int,
    program_fd: int,
    pipe_fd: int,
    proxies: Mapping[str, types.ModuleType],
) -> NoReturn:
    try:
        os.lseek(program_fd, 0, os.SEEK_SET)
        payload = _read_all(program_fd)
        raise_walls(walls, pipe_fd)
        # Parsed only behind the walls: it is the user's text.
        program = json.loads(payload)
        # Forked children share the fork server's random state: reseed (from getrandom(2)).
        random.seed()
    except BaseException:
        os._exit(EXIT_MACHINERY)
    sink = OutputSink(PIPE_FD, output_bytes)
    reason, exit_code = run_program(str(program["code"]), str(program["stdin"]), sink, proxies)
    try:
        sink.verdict(reason)
    finally:
        os._exit(exit_code)


def run_program(
    source: str, stdin: str, sink: OutputSink, proxies: Mapping[str, types.ModuleType]
) -> tuple[str | None, int]:
    """Compile and run one program; return (reason, exit code), reason None if it went well."""
    stdout = UserOutput(sink, framing.STDOUT)
    stderr = UserOutput(sink, framing.STDERR)
    try:
        tree = ast.parse(source, FILENAME)
        compiled = compile_restricted_exec(tree, FILENAME, policy=PolicyTransformer)
    except SyntaxError as error:
        stderr.write("".join(traceback.format_exception_only(type(error), error)))
        return "exception", 1
    except (RecursionError, MemoryError, ValueError) as error:
        # The parser or compiler gave up (nesting too deep, NUL bytes, ...).
        stderr.write(f"SyntaxError: {type(error).__name__}: {error}\n")
        return "exception", 1
    if compiled.errors or compiled.code is None:
        stderr.write(format_policy_errors(compiled.errors, source, FILENAME))
        return "exception", 1

    remember_source(FILENAME, source)
    facts = TestFacts()
    globals_ = build_globals(proxies, UserInput(stdin), facts)
    saved = sys.stdout, sys.stderr
    # The interpreter's own streams: what the standard library prints reaches the output.
    sys.stdout, sys.stderr = stdout, stderr
    try:
        reason, exit_code = _execute(compiled.code, globals_, stderr)
    finally:
        sys.stdout, sys.stderr = saved
    if facts.failed and reason in (None, "exit"):
        # unittest.main() ends the program with SystemExit(True): the tests are the news.
        return "tests_failed", exit_code or 1
    return reason, exit_code


def _execute(
    code: types.CodeType, globals_: dict[str, object], stderr: UserOutput
) -> tuple[str | None, int]:
    try:
        exec(code, globals_)  # noqa: S102 - the point of this module, behind the walls
    except SystemExit as error:
        return _exit_status(error, stderr)
    except BaseException as error:
        try:
            report = format_exception(error, FILENAME)
        except BaseException:
            report = f"{type(error).__name__}\n"
        stderr.write(report)
        # The memory wall ends a program as MemoryError: report it as the wall, not a bug.
        return ("memory_limit" if isinstance(error, MemoryError) else "exception"), 1
    return None, 0


def _exit_status(exit_request: SystemExit, stderr: UserOutput) -> tuple[str | None, int]:
    """`sys.exit(code)` as Python's own interpreter would end."""
    code = exit_request.code
    if code is None:
        return None, 0
    if isinstance(code, int):
        status = code % 256
        return (None if status == 0 else "exit"), status
    try:
        stderr.write(f"{code}\n")
    except BaseException:
        stderr.write("SystemExit\n")
    return "exit", 1
