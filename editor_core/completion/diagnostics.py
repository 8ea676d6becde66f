"""What is wrong with a document: the parser's syntax error, else pyflakes' findings
(docs/protocol.md "Language").

Pure and synchronous: the AST worker (worker.py) runs it off the event loop, and the benchmark
runs it raw. Positions come out as UTF-16 offsets (`editor_core.positions`): the parser counts
1-based lines and 1-based code-point columns, pyflakes 1-based lines and 0-based UTF-8 byte
columns (the `ast` node's `col_offset`); both are converted here, once.
"""

from __future__ import annotations

import ast
import re
import warnings
from typing import Literal

from pyflakes import messages as flakes
from pyflakes.checker import Checker

from editor_core.completion.model import Diagnostic
from editor_core.positions import LineIndex

Severity = Literal["error", "warning", "info"]

# A bound on one answer: a document with thousands of findings gets the first ones.
DIAGNOSTIC_LIMIT = 500

# Findings that are certain failures when the code runs; the rest are warnings, but for the
# star-import notes, which only say what pyflakes cannot check.
_ERRORS: tuple[type[flakes.Message], ...] = (
    flakes.UndefinedName,
    flakes.UndefinedLocal,
    flakes.UndefinedExport,
    flakes.ReturnOutsideFunction,
    flakes.YieldOutsideFunction,
    flakes.ContinueOutsideLoop,
    flakes.BreakOutsideLoop,
    flakes.DuplicateArgument,
    flakes.TwoStarredExpressions,
    flakes.TooManyExpressionsInStarredAssignment,
    flakes.FutureFeatureNotDefined,
    flakes.LateFutureImport,
    flakes.DefaultExceptNotLast,
)
_INFOS: tuple[type[flakes.Message], ...] = (flakes.ImportStarUsage,)
_WORD = re.compile(r"\w+")


def diagnose(code: str) -> list[Diagnostic]:
    """The syntax error of `code` if it does not parse, else pyflakes' findings, in order."""
    lines = LineIndex(code)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for `"\d"` and the like
            tree = ast.parse(code, filename="<document>")
    except SyntaxError as error:
        return [_syntax_error(lines, error)]
    except ValueError as error:  # a NUL character (3.11)
        return [Diagnostic(0, min(1, len(code)), "error", str(error), "syntax")]
    checker = Checker(tree, filename="<document>")
    checker.messages.sort(key=lambda m: (m.lineno, m.col))
    return [_finding(lines, m) for m in checker.messages[:DIAGNOSTIC_LIMIT]]


def _syntax_error(lines: LineIndex, error: SyntaxError) -> Diagnostic:
    line_count = lines.line_count
    line = min(max(error.lineno or 1, 1), line_count)
    start = _clamp_column(lines, line, (error.offset or 1) - 1)
    from_ = lines.line_col_to_utf16(line, start)
    to = from_
    end = (error.end_offset or 0) - 1
    if error.end_lineno == line and end > start:
        to = lines.line_col_to_utf16(line, _clamp_column(lines, line, end))
    if to == from_:
        # One character under the error; at the end of a line, the one before it (an empty
        # range would show as no underline at all).
        to = lines.line_col_to_utf16(line, _clamp_column(lines, line, start + 1))
        if to == from_ and start > 0:
            from_ = lines.line_col_to_utf16(line, start - 1)
    return Diagnostic(from_, to, "error", error.msg, "syntax")


def _finding(lines: LineIndex, message: flakes.Message) -> Diagnostic:
    line = min(max(message.lineno, 1), lines.line_count)
    text = lines.line_text(line)
    # `col` counts UTF-8 bytes of the line (the `ast` node's col_offset).
    column = len(text.encode("utf-8")[: message.col].decode("utf-8", "ignore"))
    start, end = _span(text, column, message)
    severity: Severity = "warning"
    if isinstance(message, _ERRORS):
        severity = "error"
    elif isinstance(message, _INFOS):
        severity = "info"
    return Diagnostic(
        lines.line_col_to_utf16(line, start),
        lines.line_col_to_utf16(line, end),
        severity,
        message.message % message.message_args,
        "pyflakes",
    )


def _span(text: str, column: int, message: flakes.Message) -> tuple[int, int]:
    """The name the finding is about, from `column` on in its line (an unused import's
    finding points at its `import` statement); else the word at `column`; else the line."""
    args = message.message_args
    if args and isinstance(args[0], str):
        name = args[0].removesuffix(".*")
        found = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)").search(text, column) \
            if name else None
        if found is not None:
            return found.start(), found.end()
    word = _WORD.match(text, column)
    if word is not None and word.end() > column:
        return column, word.end()
    return column, max(column, len(text))


def _clamp_column(lines: LineIndex, line: int, column: int) -> int:
    return min(max(column, 0), len(lines.line_text(line)))
