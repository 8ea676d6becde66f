"""The compile-time half of the language policy: RestrictedPython's transformer, adjusted.

RestrictedPython rewrites attribute reads into `_getattr_`, writes into `_write_`, iteration
into `_getiter_` and refuses names starting with "_". We keep all of that and change only what
ordinary teaching code needs and what is safe because of the runtime guards in `policy.py`:

- `print` is an ordinary builtin that writes through to the stream. RestrictedPython's
  per-function print collector would need the host to gather every function's text itself;
  a host that returns only the module's `printed` silently drops what functions print.
  `printed` is then an ordinary name too.
- `super().__init__(...)`, `self.__class__.__name__` and friends: a short list of dunder
  attributes may be read (still through `_getattr_`), and classes may define the usual dunder
  methods (`__str__`, `__len__`, `__add__`, ...).
- `self.count += 1` and `totals[key] += x`: RestrictedPython refuses augmented assignment to
  attributes and items; we rewrite it into a guarded read and a guarded write.
- Annotated assignments (`x: int = 1`, dataclass fields) and `nonlocal` are allowed.
- `class` statements keep their own metaclass (Enum, NamedTuple); the `metaclass=` keyword
  stays forbidden.
"""

from __future__ import annotations

import ast
from typing import cast

from RestrictedPython.transformer import (
    INSPECT_ATTRIBUTES,
    IOPERATOR_TO_STR,
    RestrictingNodeTransformer,
    copy_locations,
)

# Dunder attributes that may be read: they return strings, the object's own class, or a method
# that does what an operator or constructor call already does. Never `__dict__`, `__globals__`,
# `__subclasses__`, `__builtins__`, `__code__` or anything that reaches frames.
READABLE_DUNDERS = frozenset(
    {"__init__", "__name__", "__qualname__", "__doc__", "__module__", "__class__"}
)

# Dunder methods a class may define. Not `__getattribute__`, `__getattr__`, `__setattr__`,
# `__del__`, `__init_subclass__`, `__set_name__`, `__get__`/`__set__` (hooks into attribute
# machinery and interpreter shutdown, which the guards assume are the interpreter's own).
DEFINABLE_DUNDERS = frozenset(
    {
        "__init__", "__post_init__", "__str__", "__repr__", "__format__", "__hash__",
        "__bool__", "__len__", "__iter__", "__next__", "__reversed__", "__contains__",
        "__getitem__", "__setitem__", "__delitem__", "__missing__", "__call__",
        "__enter__", "__exit__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__",
        "__add__", "__radd__", "__iadd__", "__sub__", "__rsub__", "__isub__",
        "__mul__", "__rmul__", "__imul__", "__matmul__", "__rmatmul__",
        "__truediv__", "__rtruediv__", "__itruediv__", "__floordiv__", "__rfloordiv__",
        "__ifloordiv__", "__mod__", "__rmod__", "__imod__", "__pow__", "__rpow__",
        "__divmod__", "__rdivmod__", "__neg__", "__pos__", "__abs__", "__invert__",
        "__and__", "__rand__", "__or__", "__ror__", "__xor__", "__rxor__",
        "__lshift__", "__rlshift__", "__rshift__", "__rrshift__",
        "__int__", "__float__", "__complex__", "__index__", "__round__",
        "__trunc__", "__floor__", "__ceil__",
    }
)  # fmt: skip

_PLAIN_NAMES = frozenset({"print", "printed"})


class PolicyTransformer(RestrictingNodeTransformer):
    def check_name(
        self, node: ast.AST, name: str | None, allow_magic_methods: bool = False
    ) -> None:
        if name in _PLAIN_NAMES:
            return
        if (
            allow_magic_methods
            and name in DEFINABLE_DUNDERS
            and getattr(node, "col_offset", 0) != 0
        ):
            return
        super().check_name(node, name, allow_magic_methods)  # type: ignore[arg-type]

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in _PLAIN_NAMES or (node.id == "__name__" and isinstance(node.ctx, ast.Load)):
            return node
        return cast(ast.AST, super().visit_Name(node))

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if node.attr in READABLE_DUNDERS and isinstance(node.ctx, ast.Load):
            node = self.node_contents_visit(node)
            call = ast.Call(
                func=ast.Name("_getattr_", ast.Load()),
                args=[node.value, ast.Constant(node.attr)],
                keywords=[],
            )
            copy_locations(call, node)
            return call
        return cast(ast.AST, super().visit_Attribute(node))

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        # Target and annotation are ordinary expressions, guarded like everywhere else.
        return self.node_contents_visit(node)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> ast.AST:
        for name in node.names:
            self.check_name(node, name)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.check_name(node, node.name)
        node = self.node_contents_visit(node)
        if any(keyword.arg == "metaclass" for keyword in node.keywords):
            self.error(node, 'The keyword argument "metaclass" is not allowed.')
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST | list[ast.stmt]:
        """`a.b += v` becomes `t = a; _write_(t).b = _inplacevar_("+=", _getattr_(t, "b"), v)`
        (and likewise for `a[k] += v`): `a` and `k` are evaluated once, in Python's order."""
        target = node.target
        if isinstance(target, ast.Name):
            return cast(ast.AST, super().visit_AugAssign(node))
        statements: list[ast.stmt] = []

        def bind(value: ast.expr) -> str:
            name = self.gen_tmp_name()
            statements.append(ast.Assign(targets=[ast.Name(name, ast.Store())], value=value))
            return name

        def load(name: str) -> ast.Name:
            return ast.Name(name, ast.Load())

        def call(function: str, *args: ast.expr) -> ast.Call:
            return ast.Call(func=ast.Name(function, ast.Load()), args=list(args), keywords=[])

        store: ast.expr
        if isinstance(target, ast.Attribute):
            if target.attr.startswith("_") or target.attr in INSPECT_ATTRIBUTES:
                self.error(node, f'"{target.attr}" is an invalid attribute name.')
                return node
            obj = bind(cast(ast.expr, self.visit(target.value)))
            current = call("_getattr_", load(obj), ast.Constant(target.attr))
            store = ast.Attribute(value=call("_write_", load(obj)), attr=target.attr)
        elif isinstance(target, ast.Subscript):
            if any(isinstance(part, ast.Slice) for part in ast.walk(target.slice)):
                self.error(node, "Augmented assignment of slices is not allowed.")
                return node
            obj = bind(cast(ast.expr, self.visit(target.value)))
            key = bind(cast(ast.expr, self.visit(target.slice)))
            current = call("_getitem_", load(obj), load(key))
            store = ast.Subscript(value=call("_write_", load(obj)), slice=load(key))
        else:  # pragma: no cover - the grammar allows nothing else
            self.not_allowed(node)
            return node
        store.ctx = ast.Store()
        value = cast(ast.expr, self.visit(node.value))
        operator = ast.Constant(IOPERATOR_TO_STR[type(node.op)])
        statements.append(
            ast.Assign(targets=[store], value=call("_inplacevar_", operator, current, value))
        )
        for statement in statements:
            copy_locations(statement, node)
        return statements
