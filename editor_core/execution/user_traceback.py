"""Tracebacks that show the program's own frames and nothing of ours.

An uncaught exception is reported like Python would report it, but keeping only the frames
whose code came from the program (filename `<room>`): no guard, no stdlib, no path of this
machine. Chained exceptions (`raise ... from ...`, exceptions during handling) are filtered
the same way.
"""

from __future__ import annotations

import linecache
import re
import traceback
from collections.abc import Callable, Sequence

_RESTRICTED_ERROR = re.compile(r"^Line (\d+): (.*)$", re.DOTALL)


def remember_source(filename: str, source: str) -> None:
    """Let tracebacks quote the program's lines."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def format_exception(
    error: BaseException, filename: str | Callable[[str], bool], *, chain: bool = True,
    limit: int | None = None,
) -> str:
    """The report of `error` with only the frames of `filename` (or those whose filename
    the predicate keeps); `limit` as `traceback`'s: at most that many of them per traceback,
    the first ones, or the last ones when negative."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise TypeError(f"limit must be an int or None, not {type(limit).__name__}")
    # lookup_lines=False: only the frames we keep have their lines read (from linecache,
    # where `remember_source` put the program); stdlib sources are never opened.
    summary = traceback.TracebackException.from_exception(error, lookup_lines=False)
    if not chain:
        summary.__cause__ = summary.__context__ = None
    _keep_frames_of(summary, filename, limit, set())
    return "".join(summary.format())


def _keep_frames_of(
    summary: traceback.TracebackException,
    filename: str | Callable[[str], bool],
    limit: int | None,
    seen: set[int],
) -> None:
    if id(summary) in seen:
        return
    seen.add(id(summary))
    keep = filename.__eq__ if isinstance(filename, str) else filename
    frames = [frame for frame in summary.stack if keep(frame.filename)]
    if limit is not None:
        frames = frames[:limit] if limit >= 0 else frames[limit:]
    summary.stack = traceback.StackSummary.from_list(frames)
    for chained in (summary.__cause__, summary.__context__):
        if chained is not None:
            _keep_frames_of(chained, filename, limit, seen)


def format_policy_errors(errors: Sequence[str], source: str, filename: str) -> str:
    """RestrictedPython's refusals ("Line 3: ...") in the shape of a SyntaxError report."""
    lines = source.splitlines()
    report: list[str] = []
    for error in errors:
        match = _RESTRICTED_ERROR.match(error)
        if match is None:
            report.append(f"SyntaxError: {error}\n")
            continue
        number = int(match.group(1))
        report.append(f'  File "{filename}", line {number}\n')
        if 0 < number <= len(lines):
            report.append(f"    {lines[number - 1].strip()}\n")
        report.append(f"SyntaxError: {match.group(2)}\n")
    return "".join(report)
