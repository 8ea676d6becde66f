"""Stand-ins for the parts of `traceback` and `warnings` that reach interpreter state.

The real `traceback` walks frames (`walk_stack`, `extract_stack`, `capture_locals`) and reads
source files through `linecache`; the real `warnings` names the frame that warned by walking
the stack, and hands out its process-wide `filters` list. A program gets these instead:
formatting of its own exceptions (only its own frames, as in its uncaught tracebacks), and
warnings attributed to its own lines. docs/sandbox.md lists what is offered.
"""

from __future__ import annotations

import sys
import traceback as _traceback
import warnings as _warnings
from typing import Any

from editor_core.execution.user_traceback import format_exception as _format_user_exception

FILENAME = "<room>"
# What a warning raised outside the program says instead of a path of this machine.
OUTSIDE = "<python>"
_UNSET: Any = object()
_ACTIONS = frozenset({"error", "ignore", "always", "default", "module", "once"})


# -- traceback ---------------------------------------------------------------------------------


def _exception(exc: Any, value: Any) -> BaseException | None:
    error = exc if value is _UNSET else value
    if error is not None and not isinstance(error, BaseException):
        raise TypeError(f"expected an exception, not {type(error).__name__}")
    return error


def format_exception(
    exc: Any, /, value: Any = _UNSET, tb: Any = _UNSET, limit: Any = None, chain: bool = True
) -> list[str]:
    """Like `traceback.format_exception`, showing only the program's own frames (`limit` of
    them as there). `tb` is accepted and ignored: the frames are always the exception's own."""
    error = _exception(exc, value)
    if error is None:
        return ["NoneType: None\n"]
    return _format_user_exception(error, FILENAME, chain=bool(chain),
                                  limit=limit).splitlines(keepends=True)


def format_exception_only(exc: Any, /, value: Any = _UNSET) -> list[str]:
    error = _exception(exc, value)
    if error is None:
        return ["NoneType: None\n"]
    # No traceback is passed, so no frame is looked at.
    return _traceback.format_exception_only(type(error), error)


def format_exc(limit: Any = None, chain: bool = True) -> str:
    return "".join(format_exception(sys.exc_info()[1], limit=limit, chain=chain))


def print_exception(
    exc: Any,
    /,
    value: Any = _UNSET,
    tb: Any = _UNSET,
    limit: Any = None,
    file: Any = None,
    chain: bool = True,
) -> None:
    text = "".join(format_exception(exc, value, limit=limit, chain=chain))
    (sys.stderr if file is None else file).write(text)


def print_exc(limit: Any = None, file: Any = None, chain: bool = True) -> None:
    print_exception(sys.exc_info()[1], limit=limit, file=file, chain=chain)


TRACEBACK = {
    "format_exception": format_exception,
    "format_exception_only": format_exception_only,
    "format_exc": format_exc,
    "print_exception": print_exception,
    "print_exc": print_exc,
}


# -- warnings ----------------------------------------------------------------------------------

# The program's "once per location" memory (the real module keeps one per module's globals).
_registry: dict[Any, Any] = {}


def _check_category(category: Any) -> None:
    if not (isinstance(category, type) and issubclass(category, Warning)):
        raise TypeError("category must be a Warning subclass")


def warn(message: Any, category: Any = None, stacklevel: int = 1, source: Any = None) -> None:
    """`warnings.warn`, attributed to the program's own line `stacklevel` calls up."""
    if isinstance(message, Warning):
        category = message.__class__
    if category is None:
        category = UserWarning
    _check_category(category)
    lines: list[int] = []
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == FILENAME:
            lines.append(frame.f_lineno)
        frame = frame.f_back  # type: ignore[assignment]
    level = max(1, int(stacklevel))
    lineno = lines[min(level, len(lines)) - 1] if lines else 0
    _warnings.warn_explicit(message, category, FILENAME, lineno, "__main__", _registry)


def filterwarnings(
    action: Any,
    message: Any = "",
    category: Any = Warning,
    module: Any = "",
    lineno: Any = 0,
    append: Any = False,
) -> None:
    if action not in _ACTIONS or type(action) is not str:
        raise ValueError(f"invalid action: {action!r}")
    if type(message) is not str or type(module) is not str:
        raise TypeError("message and module must be strings")
    if type(lineno) is not int or lineno < 0:
        raise ValueError("lineno must be an int >= 0")
    _check_category(category)
    _warnings.filterwarnings(action, message, category, module, lineno, bool(append))  # type: ignore[arg-type]


def simplefilter(
    action: Any, category: Any = Warning, lineno: Any = 0, append: Any = False
) -> None:
    filterwarnings(action, "", category, "", lineno, append)


def resetwarnings() -> None:
    _warnings.resetwarnings()


class catch_warnings(_warnings.catch_warnings):
    """`warnings.catch_warnings` of the real module only (no `module=` argument)."""

    def __init__(
        self,
        *,
        record: bool = False,
        action: Any = None,
        category: Any = Warning,
        lineno: Any = 0,
        append: Any = False,
    ) -> None:
        super().__init__(record=bool(record))
        self._pairpad_filter = None if action is None else (action, category, lineno, append)

    def __enter__(self) -> Any:
        log = super().__enter__()
        if self._pairpad_filter is not None:
            simplefilter(*self._pairpad_filter)
        return log


class WarningMessage(_warnings.WarningMessage):
    """What the real module builds for every warning: here, a warning raised outside the
    program names no file of this machine. Installed by `modules.harden_stdlib`."""

    def __init__(
        self,
        message: Any,
        category: Any,
        filename: Any,
        lineno: Any,
        file: Any = None,
        line: Any = None,
        source: Any = None,
    ) -> None:
        if filename != FILENAME:
            filename, lineno, line = OUTSIDE, 0, ""
        super().__init__(message, category, filename, lineno, file, line, source)


WARNINGS = {
    "warn": warn,
    "filterwarnings": filterwarnings,
    "simplefilter": simplefilter,
    "resetwarnings": resetwarnings,
    "catch_warnings": catch_warnings,
}
