"""The Jedi worker: one child process, one request at a time, JSON lines over its pipes.

Jedi is not thread-safe and every new document `path` grows its memory, so it runs here, in
one process, with one fixed `jedi.Project` (rooted in an empty directory, `sys_path` = the
library paths only) and one fixed document path for every request.

Pipe protocol (one JSON object per line, ASCII-only so lone surrogates survive):

    engine → worker   {"id": int, "code": str, "position": int}      position in UTF-16 units
    worker → engine   {"type": "ready", "preloadMs": float, "dropped": bool}   once, at start
                      {"id", "type": "symbols", "from", "prefix", "attribute", "symbols", "ms"}
                      {"id", "type": "completions", "from", "items": [[label, kind, detail]],
                       "ms"}
                      {"id", "type": "error", "code": "bad_position" | "internal"}

Each request gets `symbols` first (a parse, milliseconds) and then `completions` (Jedi's
inference, which may be slow), so the engine has the AST fallback ready at its deadline.
Nothing here writes user code anywhere: errors are reported by exception type only.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import IO, Any

from editor_core.completion.confinement import (
    confine_jedi,
    drop_privileges,
    is_allowed,
    library_paths,
    snapshot_library_listings,
)
from editor_core.completion.fallback import cursor_at
from editor_core.completion.kinds import wire_kind
from editor_core.completion.symbols import symbols_in_tree
from editor_core.positions import utf16_length, utf16_to_index

# Signatures cost a few ms each (Jedi infers them), so only a short list gets them.
SIGNATURE_LIMIT = 10
# A bound on one answer's size; Jedi's longest lists (module attributes) stay well below.
ITEM_LIMIT = 2000

# Run before the privilege drop: they load builtins and the stubs of common modules into the
# memory caches, and import every module the request path needs lazily.
PRELOAD: tuple[str, ...] = (
    "",
    "x = ''\nx.",
    "x = []\nx.",
    "x = {}\nx.",
    "x = 1\nx.",
    "import os\nos.",
    "import os.path\nos.path.",
    "import sys\nsys.",
    "import math\nmath.sq",
    "import re\nre.",
    "import json\njson.",
    "import collections\ncollections.",
    "import itertools\nitertools.",
    "import functools\nfunctools.",
    "import typing\ntyping.",
    "import datetime\ndatetime.",
    "import pathlib\npathlib.",
    "import random\nrandom.",
    "import string\nstring.",
    "import time\ntime.",
    "from collections import ",
    "import ",
    "def f(a, b):\n    return a.\n",
    "def f(a, b):\n    return a.b\n\nclass C:\n    def m(self):\n        self.",
)


class Worker:
    """Answers requests with Jedi; owns the one Project and document path."""

    def __init__(self, project_dir: str) -> None:
        import jedi

        self._jedi = jedi
        self._roots = library_paths()
        self._document = Path(project_dir) / "document.py"
        self._environment = jedi.InterpreterEnvironment()
        self._project = jedi.Project(
            project_dir,
            sys_path=self._roots,
            smart_sys_path=False,
            added_sys_path=(),
        )
        self._grammar = self._environment.get_grammar()
        # Reuse work per code: the last Script keeps Jedi's inference caches for its text.
        self._script: Any = None
        self._script_code: str | None = None

    def preload(self) -> None:
        for snippet in PRELOAD:
            self.handle(
                {"id": -1, "code": snippet, "position": utf16_length(snippet)}, lambda message: None
            )

    def handle(self, request: dict[str, Any], send: Any) -> None:
        ident = request["id"]
        code: str = request["code"]
        position: int = request["position"]
        started = time.perf_counter()
        try:
            index = utf16_to_index(code, position)
        except ValueError:
            send({"id": ident, "type": "error", "code": "bad_position"})
            return
        line = code.count("\n", 0, index) + 1
        column = index - (code.rfind("\n", 0, index) + 1)
        try:
            # The same call Jedi's Script makes, so Script finds this tree in parso's cache.
            module = self._grammar.parse(
                code=code,
                path=self._document,
                cache=False,
                diff_cache=True,
                cache_path=self._jedi.settings.cache_directory,
            )
            symbols = symbols_in_tree(module, code, line, column)
            cursor = cursor_at(code, position, index)
            send(
                {
                    "id": ident,
                    "type": "symbols",
                    "from": cursor.from_,
                    "prefix": cursor.prefix,
                    "attribute": cursor.attribute,
                    "symbols": symbols.to_wire(),
                    "ms": _ms(started),
                }
            )
            items, from_ = self._complete(code, position, index, line, column)
            if from_ is None:
                from_ = cursor.from_
            send(
                {
                    "id": ident,
                    "type": "completions",
                    "from": from_,
                    "items": items,
                    "ms": _ms(started),
                }
            )
        except Exception as error:  # reported to the engine (AST answer), then logged
            _report(error)
            send({"id": ident, "type": "error", "code": "internal"})

    def _complete(
        self, code: str, position: int, index: int, line: int, column: int
    ) -> tuple[list[list[str | None]], int | None]:
        if self._script_code != code:
            self._script = None  # let the old inference state go before building the next
            self._script = self._jedi.Script(
                code, path=self._document, project=self._project, environment=self._environment
            )
            self._script_code = code
        completions = self._script.complete(line, column)[:ITEM_LIMIT]
        # Second line of defence (confinement.py is the first): a name defined in a file
        # outside the library paths is never shown. Module names are exempt: their
        # `module_path` loads each module (seconds for `import |`), and they are listed from
        # the confined search path itself.
        allowed = [
            c
            for c in completions
            if c.type == "module" or is_allowed(c.module_path, self._roots, self._document)
        ]
        few = len(allowed) <= SIGNATURE_LIMIT
        items: list[list[str | None]] = []
        for completion in allowed:
            kind = wire_kind(completion.type)
            items.append([completion.name, kind, _detail(completion, kind) if few else None])
        from_ = None
        if allowed:
            # Jedi's word start: the part of the name already typed.
            typed = len(allowed[0].name) - len(allowed[0].complete)
            from_ = position - utf16_length(code[index - typed : index])
        return items, from_


def _detail(completion: Any, kind: str) -> str | None:
    if kind not in ("function", "class"):
        return None
    signatures = completion.get_signatures()
    return str(signatures[0].to_string()) if signatures else None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _report(error: BaseException) -> None:
    # Type and frames only: an exception's message may quote the user's code.
    frames = traceback.extract_tb(error.__traceback__)
    where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames[-4:]))
    print(f"pairpad.completion.worker: {type(error).__name__} at {where}", file=sys.stderr)


def main(argv: list[str]) -> int:
    project_dir, *flags = argv
    # The protocol owns the real stdout; anything else printed goes to stderr.
    channel: IO[bytes] = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    warnings.simplefilter("ignore")

    def send(message: dict[str, Any]) -> None:
        channel.write(json.dumps(message, ensure_ascii=True).encode("ascii") + b"\n")
        channel.flush()

    started = time.perf_counter()
    confine_jedi()
    worker = Worker(project_dir)
    if "--no-preload" not in flags:
        worker.preload()
    snapshot_library_listings(library_paths())
    dropped = drop_privileges()
    send({"type": "ready", "preloadMs": _ms(started), "dropped": dropped})
    for raw in sys.stdin.buffer:
        if raw.strip():
            worker.handle(json.loads(raw), send)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
