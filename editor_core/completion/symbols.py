"""Names visible at the cursor, from parso's error-tolerant tree (PROTOCOL.md: `Symbols`).

The document is usually mid-edit, so it often does not parse. parso still gives a tree: the
statements it understood are ordinary nodes, the rest `error_node`s holding the tokens. Scopes
are therefore decided by indentation, the way a reader does it, not by the tree: a block is
every line after its header that starts deeper than the header, until the first line that does
not. That treats a `def` whose parameter list is still open (an `error_node`) like a finished
one, and puts the cursor on a blank indented line inside the function it is indented under.

Units: parso and this module count (1-based line, 0-based code-point column), as Jedi does;
`symbols_at` takes the wire's UTF-16 offset and converts once (`editor_core.positions`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from parso.grammar import load_grammar

from editor_core.completion.model import Symbols
from editor_core.positions import utf16_to_line_col

Category = Literal["variables", "functions", "classes", "imports"]
ScopeKind = Literal["module", "function", "class"]

_NO_END = 1 << 62


def parse(code: str) -> Any:
    """parso's error-tolerant tree of `code` (never raises on bad syntax)."""
    return load_grammar().parse(code, error_recovery=True)


def symbols_at(code: str, position: int) -> Symbols:
    """Names visible at UTF-16 `position` of `code`; `ValueError` if the position is invalid."""
    line, column = utf16_to_line_col(code, position)
    return symbols_in_tree(parse(code), code, line, column)


@dataclass
class _Scope:
    kind: ScopeKind
    line: int  # the header's line; 0 for the module
    indent: int  # column where the header's line starts; -1 for the module
    body_col: int | None = None  # column of a body written on the header's line
    end: int = _NO_END  # first line that no longer belongs to the block
    params: list[str] = field(default_factory=list)
    names: dict[Category, set[str]] = field(
        default_factory=lambda: {
            "variables": set(),
            "functions": set(),
            "classes": set(),
            "imports": set(),
        }
    )


class _Layout:
    """Where each line's first token starts: the indentation that decides scopes."""

    def __init__(self, module: Any, code: str) -> None:
        lines = code.split("\n")
        self.line_start: dict[int, int] = {}
        for leaf in _leaves(module):
            if leaf.type in ("newline", "endmarker"):
                continue
            line, col = leaf.start_pos
            if line in self.line_start:
                continue
            text = lines[line - 1] if line - 1 < len(lines) else ""
            if not text[:col].strip():
                self.line_start[line] = col

    def effective_indent(self, line: int, column: int) -> int:
        """The indentation that places `(line, column)`: its line's, or the column itself
        when nothing starts before it on that line (a blank line being typed on)."""
        start = self.line_start.get(line)
        return column if start is None else min(start, column)

    def close(self, scopes: list[_Scope]) -> None:
        """Set each scope's `end`: the first later line starting at or left of its header."""
        starts = sorted(self.line_start.items())
        ordered = sorted(scopes, key=lambda s: s.line)
        open_: list[_Scope] = []
        i = 0
        for line, col in starts:
            # A header opens after its own line: its body starts on the next one.
            while open_ and open_[-1].indent >= col:
                open_.pop().end = line
            # Scopes whose header is on this line open now (their body lies below).
            while i < len(ordered) and ordered[i].line <= line:
                if ordered[i].line == line:
                    open_.append(ordered[i])
                i += 1
        # `open_` keeps `_NO_END`: those blocks run to the end of the document.

    def contains(self, scope: _Scope, line: int, column: int) -> bool:
        if scope.kind == "module":
            return True
        if line == scope.line:
            return scope.body_col is not None and column >= scope.body_col
        return scope.line < line < scope.end and self.effective_indent(line, column) > scope.indent


def symbols_in_tree(module: Any, code: str, line: int, column: int) -> Symbols:
    """Names visible at (1-based `line`, 0-based code-point `column`) in parso `module`."""
    layout = _Layout(module, code)
    root = _Scope("module", 0, -1)
    scopes: list[_Scope] = []
    definitions: list[tuple[Category, str, tuple[int, int]]] = []
    lambdas: list[Any] = []
    comprehension_vars: list[tuple[str, Any]] = []

    for node in _nodes(module):
        kind = node.type
        if kind in ("funcdef", "classdef"):
            scopes.append(_real_scope(node, layout))
        elif kind == "lambdef":
            lambdas.append(node)
        elif kind == "error_node":
            _scan_error_node(node, layout, scopes, definitions)
        elif kind == "name" and node.is_definition():
            _classify(node, definitions, comprehension_vars)

    layout.close(scopes)
    by_depth = sorted(scopes, key=lambda s: s.line)

    def innermost(pos: tuple[int, int]) -> _Scope:
        found = root
        for scope in by_depth:
            if layout.contains(scope, *pos):
                found = scope
        return found

    cursor = (line, column)
    for category, name, pos in definitions:
        # The word being typed is no symbol yet (`import collec|`, `from m import Ord|`).
        if pos <= cursor <= (pos[0], pos[1] + len(name)):
            continue
        innermost(pos).names[category].add(name)

    chain = [root] + [s for s in by_depth if layout.contains(s, line, column)]
    return _visible(chain, lambdas, comprehension_vars, cursor)


def _visible(
    chain: list[_Scope],
    lambdas: list[Any],
    comprehension_vars: list[tuple[str, Any]],
    cursor: tuple[int, int],
) -> Symbols:
    globals_: set[str] = set()
    functions: set[str] = set()
    classes: set[str] = set()
    imports: set[str] = set()
    params: set[str] = set()
    locals_: set[str] = set()
    innermost = chain[-1]
    for scope in chain:
        # Python skips class bodies when resolving names in nested functions: a class's
        # names are visible only directly in its body.
        if scope.kind == "class" and scope is not innermost:
            continue
        functions |= scope.names["functions"]
        classes |= scope.names["classes"]
        imports |= scope.names["imports"]
        if scope.kind == "module":
            globals_ |= scope.names["variables"]
        else:
            locals_ |= scope.names["variables"]
        if scope.kind == "function":
            params.update(scope.params)
    for lambdef in lambdas:
        colon = next((c for c in lambdef.children if c.type == "operator" and c.value == ":"), None)
        if colon is not None and colon.end_pos <= cursor <= lambdef.end_pos:
            params.update(p.name.value for p in lambdef.get_params())
    for name, comprehension in comprehension_vars:
        if comprehension.start_pos <= cursor <= comprehension.end_pos:
            locals_.add(name)
    return Symbols(
        globals=sorted(globals_),
        functions=sorted(functions),
        classes=sorted(classes),
        imports=sorted(imports),
        params=sorted(params),
        locals=sorted(locals_),
    )


def _real_scope(node: Any, layout: _Layout) -> _Scope:
    keyword = node.children[0]
    line = keyword.start_pos[0]
    body = node.children[-1]
    body_col = body.start_pos[1] if body.type != "suite" and body.start_pos[0] == line else None
    scope = _Scope(
        "function" if node.type == "funcdef" else "class",
        line,
        layout.line_start.get(line, keyword.start_pos[1]),
        body_col,
    )
    if node.type == "funcdef":
        scope.params = [p.name.value for p in node.get_params()]
    return scope


def _classify(
    name: Any,
    definitions: list[tuple[Category, str, tuple[int, int]]],
    comprehension_vars: list[tuple[str, Any]],
) -> None:
    definition = name.get_definition(import_name_always=True)
    if definition is None:
        return
    kind = definition.type
    if kind == "param":
        return  # taken from the function's header (or the lambda) instead
    if kind in ("sync_comp_for", "comp_for"):
        # Visible only inside the comprehension that binds it.
        comprehension_vars.append((name.value, definition.parent))
        return
    category: Category
    if kind == "funcdef":
        category = "functions"
    elif kind == "classdef":
        category = "classes"
    elif kind in ("import_name", "import_from"):
        category = "imports"
    else:
        category = "variables"
    definitions.append((category, name.value, name.start_pos))


def _scan_error_node(
    node: Any,
    layout: _Layout,
    scopes: list[_Scope],
    definitions: list[tuple[Category, str, tuple[int, int]]],
) -> None:
    """Recover the bindings of a statement parso could not parse (line-based heuristics)."""
    children = node.children
    first = children[0]
    if first.type == "name" and len(children) > 1 and _is_op(children[1], "=", ":"):
        definitions.append(("variables", first.value, first.start_pos))
    leaves = list(_own_leaves(node))
    has_import = any(x.type == "keyword" and x.value == "import" for x in leaves)
    for i, leaf in enumerate(leaves):
        if leaf.type != "keyword":
            continue
        nxt = leaves[i + 1] if i + 1 < len(leaves) else None
        if leaf.value in ("def", "class") and nxt is not None and nxt.type == "name":
            line = leaf.start_pos[0]
            scope = _Scope(
                "function" if leaf.value == "def" else "class",
                line,
                layout.line_start.get(line, leaf.start_pos[1]),
            )
            if leaf.value == "def":
                scope.params = _open_params(leaves[i + 2 :])
            scopes.append(scope)
            category: Category = "functions" if leaf.value == "def" else "classes"
            definitions.append((category, nxt.value, nxt.start_pos))
        elif leaf.value == "import":
            for bound in _imported_names(leaves[i + 1 :]):
                definitions.append(("imports", bound.value, bound.start_pos))
        elif leaf.value == "for":
            for target in leaves[i + 1 :]:
                if target.type == "keyword":
                    break
                if target.type == "name":
                    definitions.append(("variables", target.value, target.start_pos))
        elif leaf.value == "as" and not has_import and nxt is not None and nxt.type == "name":
            definitions.append(("variables", nxt.value, nxt.start_pos))


def _open_params(leaves: list[Any]) -> list[str]:
    """Parameter names of `def f(` whose list may be unfinished: the first name of each
    top-level comma-separated part (after `*` or `**`)."""
    if not leaves or not _is_op(leaves[0], "("):
        return []
    params: list[str] = []
    depth = 0
    want_name = True
    for leaf in leaves[1:]:
        if leaf.type == "operator":
            if leaf.value in ("(", "[", "{"):
                depth += 1
            elif leaf.value in (")", "]", "}"):
                if depth == 0:
                    break
                depth -= 1
            elif leaf.value == "," and depth == 0:
                want_name = True
            elif leaf.value in (":", "=") and depth == 0:
                want_name = False
        elif leaf.type == "name" and want_name and depth == 0:
            params.append(leaf.value)
            want_name = False
    return params


def _imported_names(leaves: list[Any]) -> Iterator[Any]:
    """The names an import statement binds, from its tokens after `import`."""
    part: list[Any] = []
    for leaf in [*leaves, None]:
        if leaf is None or _is_op(leaf, ",") or leaf.type == "newline":
            names = [x for x in part if x.type == "name"]
            if names:
                as_index = next(
                    (j for j, x in enumerate(part) if x.type == "keyword" and x.value == "as"),
                    None,
                )
                if as_index is not None:
                    alias = [x for x in part[as_index + 1 :] if x.type == "name"]
                    if alias:
                        yield alias[0]
                else:
                    # `import a.b` binds `a`; `from m import a` binds `a`.
                    yield names[0]
            part = []
            if leaf is None or leaf.type == "newline":
                return
        elif not _is_op(leaf, "(", ")"):
            part.append(leaf)


def _is_op(leaf: Any, *values: str) -> bool:
    return leaf.type == "operator" and leaf.value in values


def _leaves(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        current = stack.pop()
        children = getattr(current, "children", None)
        if children is None:
            yield current
        else:
            stack.extend(reversed(children))


def _own_leaves(node: Any) -> Iterator[Any]:
    """Leaves of an error node, minus nested error nodes (scanned on their own) and real
    definitions (the tree already describes them)."""
    stack = list(reversed(node.children))
    while stack:
        current = stack.pop()
        children = getattr(current, "children", None)
        if children is None:
            yield current
        elif current.type not in ("error_node", "funcdef", "classdef"):
            stack.extend(reversed(children))


def _nodes(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        children = getattr(current, "children", None)
        if children is not None:
            stack.extend(reversed(children))
