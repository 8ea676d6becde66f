"""Signatures, hover and definition from a Jedi `Script` (run in the Jedi worker only;
docs/protocol.md "Language").

Like completions, every answer passes `allowed` (confinement.is_allowed over the library
paths): a name defined in any other file of the server is never described, and no file path
leaves the worker: a definition outside the document is named by its module, never its path.
Positions in: Jedi's (1-based line, 0-based code-point column); out: UTF-16 offsets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from editor_core.completion.model import Definition, Hover, Parameter, Signature
from editor_core.positions import LineIndex, index_to_utf16, utf16_length

# Whether a name defined in this file (a path, None for builtins) may be described.
Allowed = Callable[[Any], bool]

# Bounds on one answer: a docstring is cut here, and a few overloads are enough to show.
DOC_LIMIT = 4000
SIGNATURE_COUNT = 5


def signatures(script: Any, line: int, column: int, allowed: Allowed) -> list[Signature]:
    """The calls around the cursor (Jedi's `get_signatures`), innermost first."""
    found: list[Signature] = []
    for sig in script.get_signatures(line, column)[:SIGNATURE_COUNT]:
        if not allowed(sig.module_path):
            continue
        parameters = [Parameter(str(p.to_string()), None) for p in sig.params]
        found.append(Signature(str(sig.to_string()), parameters, sig.index,
                               _doc(sig.docstring(raw=True))))
    return found


def hover(script: Any, code: str, index: int, line: int, column: int,
          allowed: Allowed) -> Hover | None:
    """What the name at the cursor is, as Markdown: a code block with its signature or type,
    then its docstring. None off a name."""
    start, end = _word_at(code, index)
    if start == end:
        return None
    names = [n for n in script.help(line, column) if allowed(n.module_path)]
    if not names:
        return None
    name = names[0]
    header = _header(script, name, line, column)
    doc = _doc(name.docstring(raw=True)) if name.type != "keyword" else None
    contents = f"```python\n{header}\n```"
    if doc:
        contents += f"\n\n{doc}"
    from_ = index_to_utf16(code, start)
    return Hover(from_, from_ + utf16_length(code[start:end]), contents)


def definition(script: Any, code: str, line: int, column: int, document: object,
               allowed: Allowed) -> Definition | None:
    """Where the name at the cursor is defined: in the document, or a library module's name."""
    for name in script.goto(line, column, follow_imports=True):
        if name.module_path == document:
            if name.line is None or name.column is None:
                continue
            from_ = LineIndex(code).line_col_to_utf16(name.line, name.column)
            return Definition(from_=from_, to=from_ + utf16_length(name.name))
        if not allowed(name.module_path) or not name.module_name:
            continue
        module = str(name.module_name)
        full = str(name.full_name or name.name)
        return Definition(module=module, name=full.removeprefix(module + "."))
    return None


def _header(script: Any, name: Any, line: int, column: int) -> str:
    if name.type in ("function", "class"):
        sigs = name.get_signatures()
        if sigs:
            keyword = "def" if name.type == "function" else "class"
            return f"{keyword} {sigs[0].to_string()}"
        return f"{name.type} {name.name}"
    if name.type == "module":
        return f"module {name.name}"
    if name.type == "keyword":
        return str(name.name)
    types = sorted({str(t.name) for t in script.infer(line, column)})
    return f"{name.name}: {' | '.join(types)}" if types else str(name.name)


def _doc(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    return text if len(text) <= DOC_LIMIT else text[:DOC_LIMIT] + "…"


def _word_at(code: str, index: int) -> tuple[int, int]:
    """The identifier around code-point `index` (touching it on either side)."""
    start = index
    while start > 0 and (code[start - 1].isalnum() or code[start - 1] == "_"):
        start -= 1
    end = index
    while end < len(code) and (code[end].isalnum() or code[end] == "_"):
        end += 1
    return start, end
