"""Names visible at the cursor, from parso's error-tolerant tree (docs/protocol.md "REST":
`symbols`).

The document is usually mid-edit, so it often does not parse. parso still gives a tree: the
statements it understood are ordinary nodes, the rest `error_node`s holding the tokens. Scopes
are therefore decided by indentation, the way a reader does it, not by the tree: a block is
every line after its header that starts deeper than the header, until the first line that does
not. That treats a `def` whose parameter list is still open (an `error_node`) like a finished
one, and puts the cursor on a blank indented line inside the function it is indented under.
Blocks away from the cursor are not entered: nothing inside them is visible at the cursor, and
skipping them is what keeps a 2,000-line document at a few milliseconds.

Units: parso and this module count (1-based line, 0-based code-point column), as Jedi does;
`symbols_at` takes the wire's UTF-16 offset and converts once (`editor_core.positions`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from editor_core.completion.model import Symbols
from editor_core.positions import utf16_to_line_col

Category = Literal["variables", "functions", "classes", "imports"]
ScopeKind = Literal["module", "function", "class"]

_NO_END = 1 << 62


def parse(code: str) -> Any:
    """parso's error-tolerant tree of `code` (never raises on bad syntax)."""
    # Imported on first use: the server process parses only while Jedi warms up, and parso
    # costs ~8 MiB of its resident memory (docs/performance-collab.md "Idle connections").
    from parso.grammar import load_grammar

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

    def __init__(self, code: str) -> None:
        self._lines = code.split("\n")
        self.line_start: dict[int, int] = {}

    def see(self, leaf: Any) -> None:
        """Note `leaf` if it is the first token on its line."""
        line, col = leaf.start_pos
        if (
            line not in self.line_start
            and line - 1 < len(self._lines)
            and not self._lines[line - 1][:col].strip()
        ):
            self.line_start[line] = col

    def text_block_end(self, header: int) -> int:
        """The first line after `header` whose text starts at or left of the header's (by the
        raw text: comments and blank lines don't count)."""
        lines = self._lines
        text = lines[header - 1]
        indent = len(text) - len(text.lstrip())
        for number in range(header, len(lines)):
            stripped = lines[number].lstrip()
            code_line = stripped and not stripped.startswith("#")
            if code_line and len(lines[number]) - len(stripped) <= indent:
                return number + 1
        return len(lines) + 1

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


_BINDING_STATEMENTS = frozenset({"expr_stmt", "for_stmt", "with_stmt", "namedexpr_test"})
_IMPORTS = frozenset({"import_name", "import_from"})
_COMPREHENSIONS = frozenset({"sync_comp_for", "comp_for"})
_SKIPPED_LEAVES = frozenset({"newline", "endmarker"})


def symbols_in_tree(module: Any, code: str, line: int, column: int) -> Symbols:
    """Names visible at (1-based `line`, 0-based code-point `column`) in parso `module`."""
    layout = _Layout(code)
    root = _Scope("module", 0, -1)
    scopes: list[_Scope] = []
    definitions: list[tuple[tuple[int, int], Category, str]] = []
    lambdas: list[Any] = []
    comprehension_vars: list[tuple[str, Any]] = []

    def define(category: Category, name: Any) -> None:
        # parso answers odd targets with nodes (`a/b: int = 0` gives a `term`): names only.
        if name.type == "name":
            definitions.append((name.start_pos, category, name.value))

    # One walk over the tree: statements give their bound names (parso knows which), leaves
    # give the indentation.
    stack = [module]
    while stack:
        node = stack.pop()
        children = getattr(node, "children", None)
        if children is None:
            if node.type not in _SKIPPED_LEAVES:
                layout.see(node)
            continue
        kind = node.type
        if kind in ("funcdef", "classdef"):
            define("functions" if kind == "funcdef" else "classes", node.name)
            if not _may_hold(node, line, layout):
                # Nothing inside a block away from the cursor is visible at the cursor: skip
                # its body (most of a big document), keep its header's indentation.
                layout.see(children[0])
                continue
            scopes.append(_real_scope(node))
        elif kind in _BINDING_STATEMENTS:
            for name in node.get_defined_names():
                define("variables", name)
        elif kind in _IMPORTS:
            for name in node.get_defined_names():
                define("imports", name)
        elif kind in _COMPREHENSIONS:
            # Visible only inside the comprehension that binds it.
            comprehension_vars += [(n.value, node.parent) for n in node.get_defined_names()]
        elif kind == "except_clause":
            if len(children) == 4 and children[3].type == "name":  # except E as name
                define("variables", children[3])
        elif kind == "lambdef":
            lambdas.append(node)
        elif kind == "error_node":
            _scan_error_node(node, scopes, definitions)
        stack.extend(reversed(children))

    for scope in scopes:
        # A header's indentation is its line's (`async def` starts left of `def`).
        scope.indent = layout.line_start.get(scope.line, scope.indent)
    layout.close(scopes)
    cursor = (line, column)
    _assign(definitions, scopes, root, layout, cursor)
    ordered = sorted(scopes, key=lambda s: s.line)
    chain = [root] + [s for s in ordered if layout.contains(s, line, column)]
    return _visible(chain, lambdas, comprehension_vars, cursor)


def _assign(
    definitions: list[tuple[tuple[int, int], Category, str]],
    scopes: list[_Scope],
    root: _Scope,
    layout: _Layout,
    cursor: tuple[int, int],
) -> None:
    """Put each definition in the innermost scope holding it: one sweep in document order,
    with the scopes opened so far on a stack."""
    ordered = sorted(scopes, key=lambda s: s.line)
    open_: list[_Scope] = []
    i = 0
    for pos, category, name in sorted(definitions):
        # The word being typed is no symbol yet (`import collec|`, `from m import Ord|`).
        if pos <= cursor <= (pos[0], pos[1] + len(name)):
            continue
        line, column = pos
        while i < len(ordered) and ordered[i].line <= line:
            open_.append(ordered[i])
            i += 1
        while open_ and open_[-1].end <= line:
            open_.pop()  # ended above: no later definition is inside it either
        home = next((s for s in reversed(open_) if layout.contains(s, line, column)), root)
        home.names[category].add(name)


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


def _may_hold(node: Any, line: int, layout: _Layout) -> bool:
    """Whether the cursor's `line` may be in the block of `node` (a def or class): up to the
    next token after it (blank lines below a block may still be in it), or, in broken code
    where parso ends the block early, up to the first line indented no deeper than it."""
    first = node.start_pos[0]
    if line < first:
        return False
    following = node.get_next_leaf()
    last = following.start_pos[0] if following is not None else node.end_pos[0]
    return line <= max(last, node.end_pos[0]) or line < layout.text_block_end(first)


def _real_scope(node: Any) -> _Scope:
    keyword = node.children[0]
    line, column = keyword.start_pos
    body = node.children[-1]
    body_col = body.start_pos[1] if body.type != "suite" and body.start_pos[0] == line else None
    scope = _Scope("function" if node.type == "funcdef" else "class", line, column, body_col)
    if node.type == "funcdef":
        scope.params = [p.name.value for p in node.get_params()]
    return scope


def _scan_error_node(
    node: Any,
    scopes: list[_Scope],
    definitions: list[tuple[tuple[int, int], Category, str]],
) -> None:
    """Recover the bindings of a statement parso could not parse (token heuristics)."""

    def define(category: Category, name: Any) -> None:
        definitions.append((name.start_pos, category, name.value))

    children = node.children
    first = children[0]
    if first.type == "name" and len(children) > 1 and _is_op(children[1], "=", ":"):
        define("variables", first)
    leaves = list(_own_leaves(node))
    has_import = any(x.type == "keyword" and x.value == "import" for x in leaves)
    for i, leaf in enumerate(leaves):
        if leaf.type != "keyword":
            continue
        nxt = leaves[i + 1] if i + 1 < len(leaves) else None
        if leaf.value in ("def", "class") and nxt is not None and nxt.type == "name":
            # A header parso gave up on (`def f(a, b=1` with no closing parenthesis): a
            # scope all the same, its indentation fixed once the walk knows the line's.
            line, column = leaf.start_pos
            scope = _Scope("function" if leaf.value == "def" else "class", line, column)
            if leaf.value == "def":
                scope.params = _open_params(leaves[i + 2 :])
            scopes.append(scope)
            define("functions" if leaf.value == "def" else "classes", nxt)
        elif leaf.value == "import":
            for bound in _imported_names(leaves[i + 1 :]):
                define("imports", bound)
        elif leaf.value == "for":
            for target in leaves[i + 1 :]:
                if target.type == "keyword":
                    break
                if target.type == "name":
                    define("variables", target)
        elif leaf.value == "as" and not has_import and nxt is not None and nxt.type == "name":
            define("variables", nxt)


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
