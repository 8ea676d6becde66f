"""The worker processes: one answers with Jedi, one with AST symbols; JSON lines over pipes.

Jedi is not thread-safe and every new document `path` grows its memory, so it runs in one
process with one fixed `jedi.Project` (rooted in an empty directory, `sys_path` = the library
paths only) and one fixed document path for every request. The symbols are computed by a
second, Jedi-free process, in parallel: the answer costs the slower of the two rather than
their sum, and the AST fallback is ready at the deadline even while Jedi is busy.

Pipe protocol (one JSON object per line, ASCII-only so lone surrogates survive):

    engine → worker   {"id": int, "code": str, "position": int}      position in UTF-16 units
                      {"id", "kind": "diagnostics" (ast) | "signatures" | "hover" |
                       "definition" (jedi), "code", "position"}       a `Query` (lane.py)
    worker → engine   {"type": "ready", "preloadMs": float, "dropped": bool}   once, at start
       role "ast":    {"id", "type": "symbols", "from", "prefix", "attribute", "symbols", "ms"}
       role "jedi":   {"id", "type": "completions", "from", "items": [[label, kind, detail]],
                       "ms"}
       a query:       {"id", "type": "answer", "answer": <the model value as JSON>, "ms"}
       both:          {"id", "type": "error", "code": "bad_position" | "internal"}

Nothing here writes user code anywhere: errors are reported by exception type only.
"""

from __future__ import annotations

import codecs
import json
import os
import resource
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from editor_core.completion import inspection
from editor_core.completion.confinement import (
    confine_jedi,
    drop_privileges,
    expose_stubs,
    import_jedi_fully,
    is_allowed,
    library_paths,
    snapshot_library_listings,
    stubs_directory,
)
from editor_core.completion.diagnostics import diagnose
from editor_core.completion.fallback import cursor_at
from editor_core.completion.kinds import wire_kind
from editor_core.completion.symbols import symbols_in_tree
from editor_core.positions import utf16_length, utf16_to_index

Send = Callable[[dict[str, Any]], None]

# Added to the workers' niceness: on a busy machine they yield the CPU to the event loop.
WORKER_NICENESS = 10
# Address-space cap of a worker (Jedi's worker holds ~100 MB after a day of documents).
WORKER_ADDRESS_SPACE = 2 * 1024**3
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


class _Role:
    """What the two workers share: the request loop's position handling."""

    # Queries run at preload too, so that their code paths are imported and warm.
    QUERIES: tuple[tuple[str, str], ...] = ()

    def preload(self) -> None:
        for snippet in PRELOAD:
            request = {"id": -1, "code": snippet, "position": utf16_length(snippet)}
            self.handle(request, lambda message: None)
        for kind, snippet in self.QUERIES:
            request = {"id": -1, "kind": kind, "code": snippet, "position": len(snippet) - 1}
            self.handle(request, lambda message: None)

    def handle(self, request: dict[str, Any], send: Send) -> None:
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
        kind = request.get("kind")
        try:
            if kind is None:
                answer = self.answer(code, position, index, line, column)
            else:
                answer = {"type": "answer",
                          "answer": self.query(kind, code, index, line, column)}
        except Exception as error:  # reported to the engine (AST answer), then logged
            _report(error)
            send({"id": ident, "type": "error", "code": "internal"})
            return
        send({"id": ident, **answer, "ms": _ms(started)})

    def answer(
        self, code: str, position: int, index: int, line: int, column: int
    ) -> dict[str, Any]:
        raise NotImplementedError

    def query(self, kind: str, code: str, index: int, line: int, column: int) -> Any:
        """A `Query`'s answer as JSON (the model values of model.py, as `asdict` gives them)."""
        raise ValueError(f"unknown query {kind!r}")


class AstRole(_Role):
    """The symbols at the cursor, from parso's error-tolerant tree; diagnostics."""

    QUERIES = (("diagnostics", "import os\nprint(x)\n"), ("diagnostics", "x = (\n"))

    def __init__(self, project_dir: str) -> None:
        from parso.grammar import load_grammar

        self._grammar = load_grammar()
        self._document = Path(project_dir) / "document.py"

    def answer(
        self, code: str, position: int, index: int, line: int, column: int
    ) -> dict[str, Any]:
        # A fixed path turns on parso's diff parser: an edit re-parses only what changed.
        module = self._grammar.parse(code, path=self._document, cache=False, diff_cache=True)
        symbols = symbols_in_tree(module, code, line, column)
        cursor = cursor_at(code, position, index)
        return {
            "type": "symbols",
            "from": cursor.from_,
            "prefix": cursor.prefix,
            "attribute": cursor.attribute,
            "symbols": symbols.to_ipc(),
        }


    def query(self, kind: str, code: str, index: int, line: int, column: int) -> Any:
        if kind == "diagnostics":
            return [asdict(d) for d in diagnose(code)]
        return super().query(kind, code, index, line, column)


class JediRole(_Role):
    """Jedi's completions, signatures, hover and definitions; owns the one Project and
    document path."""

    QUERIES = (
        ("signatures", "import os\nos.path.join(a)"),
        ("hover", "import os\nos.getcwd()"),
        ("definition", "import os\nos.getcwd()"),
        ("hover", "def f(a):\n    return a\nf(1)"),
    )

    def __init__(self, project_dir: str, stubs: str | None = None) -> None:
        import jedi

        confine_jedi()
        self._jedi = jedi
        self._roots = library_paths()
        # Names defined in Jedi's own stubs may be shown, wherever expose_stubs put them.
        self._shown = [*self._roots, *([os.path.realpath(stubs)] if stubs else [])]
        self._document = Path(project_dir) / "document.py"
        self._environment = jedi.InterpreterEnvironment()
        self._project = jedi.Project(
            project_dir,
            sys_path=self._roots,
            smart_sys_path=False,
            added_sys_path=(),
        )
        # Reuse work per code: the last Script keeps Jedi's inference caches for its text.
        self._script: Any = None
        self._script_code: str | None = None

    def _script_for(self, code: str) -> Any:
        if self._script_code != code:
            self._script = None  # let the old inference state go before building the next
            self._script = self._jedi.Script(
                code, path=self._document, project=self._project, environment=self._environment
            )
            self._script_code = code
        return self._script

    def _allowed(self, path: Path | None) -> bool:
        return is_allowed(path, self._shown, self._document)

    def query(self, kind: str, code: str, index: int, line: int, column: int) -> Any:
        script = self._script_for(code)
        if kind == "signatures":
            return [asdict(s) for s in inspection.signatures(script, line, column, self._allowed)]
        if kind == "hover":
            found = inspection.hover(script, code, index, line, column, self._allowed)
            return None if found is None else asdict(found)
        if kind == "definition":
            place = inspection.definition(script, code, line, column, self._document,
                                          self._allowed)
            return None if place is None else asdict(place)
        return super().query(kind, code, index, line, column)

    def answer(
        self, code: str, position: int, index: int, line: int, column: int
    ) -> dict[str, Any]:
        completions = self._script_for(code).complete(line, column)[:ITEM_LIMIT]
        # Second line of defence (confinement.py is the first): a name defined in a file
        # outside the library paths is never shown. Module names are exempt: their
        # `module_path` loads each module (seconds for `import |`), and they are listed from
        # the confined search path itself.
        allowed = [
            c
            for c in completions
            if c.type == "module" or is_allowed(c.module_path, self._shown, self._document)
        ]
        few = len(allowed) <= SIGNATURE_LIMIT
        items: list[list[str | None]] = []
        for completion in allowed:
            kind = wire_kind(completion.type)
            items.append([completion.name, kind, _detail(completion, kind) if few else None])
        if allowed:
            # Jedi's word start: the part of the name already typed.
            typed = len(allowed[0].name) - len(allowed[0].complete)
            from_ = position - utf16_length(code[index - typed : index])
        else:
            from_ = cursor_at(code, position, index).from_
        return {"type": "completions", "from": from_, "items": items}


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
    where = "<-".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames[-4:]))
    # The server's log format (logger name, then `event=` and key=value pairs; server/logs.py).
    print(
        f"pairpad.completion.worker event=completion.worker_error"
        f" error={type(error).__name__} where={where}",
        file=sys.stderr,
    )


def main(argv: list[str]) -> int:
    """`main([project_dir, "jedi" | "ast", "--no-preload"?])`."""
    project_dir, role_name, *flags = argv
    # The protocol owns the real stdout; anything else printed goes to stderr.
    channel: IO[bytes] = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    warnings.simplefilter("ignore")

    def send(message: dict[str, Any]) -> None:
        channel.write(json.dumps(message, ensure_ascii=True).encode("ascii") + b"\n")
        channel.flush()

    # Background work: when a core is contended, the server's event loop goes first.
    os.nice(WORKER_NICENESS)
    # A document that makes Jedi's memory run away ends in a MemoryError (reported, the
    # AST answer given), not in the machine swapping.
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_ADDRESS_SPACE, WORKER_ADDRESS_SPACE))
    started = time.perf_counter()
    stubs = None
    if role_name == "jedi" and os.getuid() == 0:  # before preload: Jedi caches stub paths
        stubs = stubs_directory(project_dir) if expose_stubs(stubs_directory(project_dir)) else None
    role: _Role = JediRole(project_dir, stubs) if role_name == "jedi" else AstRole(project_dir)
    if "--no-preload" not in flags:
        role.preload()
    else:
        role.handle({"id": -1, "code": "", "position": 0}, lambda message: None)
    if role_name == "jedi":
        snapshot_library_listings(library_paths())
        import_jedi_fully()
    # Positions convert through the UTF-16 codec (editor_core.positions): look it up while
    # the codec modules can still be read.
    codecs.lookup("utf-16-le")
    dropped = drop_privileges()
    send({"type": "ready", "preloadMs": _ms(started), "dropped": dropped})
    for raw in sys.stdin.buffer:
        if raw.strip():
            role.handle(json.loads(raw), send)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
