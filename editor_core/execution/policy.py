"""The run-time half of the language policy: the globals a sandboxed program runs with.

RestrictedPython's transformer (see `transformer.py`) turns `a.b` into `_getattr_(a, "b")`,
`a.b = c` into `_write_(a).b = c`, `a[b]` into `_getitem_(a, b)` and so on; this module
supplies those guards, the builtins and the import hook. RestrictedPython alone "is not a
sandbox" (its own documentation says so): all of this runs inside a child process behind the
walls of `walls.py`, and the policy is the first of two walls, not the only one.

The guards:
- attribute reads refuse names starting with "_" (but `READABLE_DUNDERS`) and the
  frame/code/traceback attributes RestrictedPython lists, and never hand out a real module,
  a frame, a code object or a denied callable, whatever path led there;
- `str.format`/`format_map` are replaced by a formatter whose field lookups go through the
  same guards ("{0.__class__.__mro__}" fails like `x.__class__.__mro__` does);
- attribute writes are allowed on the program's own classes and their instances only;
- imports come from the vetted proxies of `modules.py` (plus a `sys` holding only the streams).
"""

from __future__ import annotations

import _string  # type: ignore[import-not-found]
import builtins
import operator
import string
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from editor_core.execution import testing
from editor_core.execution.modules import ALLOWED_MODULE_NAMES, DENIED_CALLABLES
from editor_core.execution.streams import UserInput
from editor_core.execution.testing import TestFacts
from editor_core.execution.transformer import READABLE_DUNDERS

# The filename of the program in tracebacks.
FILENAME = "<room>"
# The module name of the program: classes it defines report it as their `__module__`.
_MAIN = "__main__"
_MAX_RECURSION_LIMIT = 10_000

# Modules that C code of the allowed modules imports while a program runs (datetime's
# strptime/strftime/now). C code imports through the `__import__` of the *calling frame's*
# builtins, which is ours; it passes an empty *list* as fromlist, which no import statement
# can produce (the compiler passes None or a tuple), so only those calls get these.
_INTERNAL_IMPORTS = frozenset({"_strptime", "time"})
# str's own formatting walks `{0.attr}` with a plain getattr.
_FORMAT_METHODS: dict[str, Any] = {"format": str.format, "format_map": str.format_map}
_UNSAFE_VALUE_TYPES = (types.FrameType, types.CodeType, types.TracebackType)
_DENIED_IDS = frozenset(id(value) for value in DENIED_CALLABLES)


class Policy:
    """The guards of one run, bound to the proxies it may see."""

    def __init__(self, proxies: Mapping[str, types.ModuleType]) -> None:
        self.proxies = dict(proxies)
        self._proxy_ids = frozenset(id(proxy) for proxy in self.proxies.values())
        self._formatter = _GuardedFormatter(self)

    # -- values ----------------------------------------------------------------------------

    def vet(self, value: Any) -> Any:
        """Refuse values that lead out of the sandbox, however they were reached."""
        if isinstance(value, types.ModuleType) and id(value) not in self._proxy_ids:
            raise AttributeError("modules can only be used through import")
        if isinstance(value, _UNSAFE_VALUE_TYPES):
            raise AttributeError(f"{type(value).__name__} objects are not available")
        if id(value) in _DENIED_IDS:
            raise AttributeError(f"{getattr(value, '__name__', 'this')} is not available")
        return value

    # -- guards (RestrictedPython's names) -------------------------------------------------

    def getattr(self, obj: Any, name: Any, *default: Any) -> Any:
        if type(name) is not str:
            raise TypeError("attribute name must be a string")
        if name.startswith("_") and name not in READABLE_DUNDERS:
            raise AttributeError(f'"{name}" is not allowed: names starting with "_" are private')
        if name in INSPECT_ATTRIBUTES:
            raise AttributeError(f'"{name}" is not allowed')
        value = builtins.getattr(obj, name, *default)
        if name in _FORMAT_METHODS:
            # Judged by the value, not the object: `super().format` of a str subclass is the
            # real method too.
            return self._guarded_format(value, name)
        return self.vet(value)

    def getitem(self, obj: Any, index: Any) -> Any:
        return self.vet(obj[index])

    def write(self, obj: Any) -> Any:
        """`_write_(obj)` precedes `obj.attr = v` and `obj[k] = v`."""
        if _is_own(obj):
            return obj
        return _ItemWriter(obj)

    def setattr(self, obj: Any, name: Any, value: Any) -> None:
        self._check_write(obj, name)
        builtins.setattr(obj, name, value)

    def delattr(self, obj: Any, name: Any) -> None:
        self._check_write(obj, name)
        builtins.delattr(obj, name)

    def hasattr(self, obj: Any, name: Any) -> bool:
        try:
            self.getattr(obj, name)
        except AttributeError:
            return False
        return True

    def import_(
        self,
        name: Any,
        globals: Any = None,
        locals: Any = None,
        fromlist: Any = (),
        level: int = 0,
    ) -> types.ModuleType:
        if type(name) is not str or level != 0:
            raise ImportError("relative imports are not allowed")
        if type(fromlist) is list and not fromlist and name in _INTERNAL_IMPORTS:
            internal = sys.modules.get(name)
            if internal is not None:
                return internal
        proxy = self.proxies.get(name)
        if proxy is None:
            allowed = ", ".join(ALLOWED_MODULE_NAMES)
            raise ImportError(f"import of '{name}' is not allowed (allowed: {allowed})")
        if "." in name and not fromlist:
            # `import a.b` binds `a`.
            return self.proxies[name.partition(".")[0]]
        return proxy

    # -- helpers ---------------------------------------------------------------------------

    def _check_write(self, obj: Any, name: Any) -> None:
        if type(name) is not str:
            raise TypeError("attribute name must be a string")
        if name.startswith("_"):
            raise AttributeError(f'"{name}" is not allowed: names starting with "_" are private')
        if not _is_own(obj):
            raise TypeError(f"cannot set attributes of {type(obj).__name__} objects")

    def _guarded_format(self, value: Any, name: str) -> Any:
        """`str.format`/`format_map` (bound or not) as the guarded formatter; else `value`."""
        formatter = self._formatter
        if value is _FORMAT_METHODS[name]:

            def unbound(template: str, *args: Any, **kwargs: Any) -> str:
                if not isinstance(template, str):
                    raise TypeError("descriptor requires a 'str' object")
                if name == "format":
                    return formatter.vformat(str(template), args, kwargs)
                (mapping,) = args
                return formatter.vformat(str(template), (), mapping)

            return unbound
        if type(value) is types.BuiltinMethodType and isinstance(value.__self__, str):
            template = str(value.__self__)
            if name == "format":
                return lambda *args, **kwargs: formatter.vformat(template, args, kwargs)
            return lambda mapping: formatter.vformat(template, (), mapping)
        return self.vet(value)


def _is_own(obj: Any) -> bool:
    """A class the program defined, or an instance of one: the only attribute-writable things."""
    cls = obj if isinstance(obj, type) else type(obj)
    return bool(type.__getattribute__(cls, "__module__") == _MAIN)


class _ItemWriter:
    """Stands in for an object that is not the program's own: items yes, attributes no."""

    __slots__ = ("_target",)
    _target: Any

    def __init__(self, target: Any) -> None:
        object.__setattr__(self, "_target", target)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._target[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._target[key]

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError(f"cannot set attributes of {type(self._target).__name__} objects")

    def __delattr__(self, name: str) -> None:
        raise TypeError(f"cannot delete attributes of {type(self._target).__name__} objects")


class _GuardedFormatter(string.Formatter):
    """`str.format` whose `{0.attr}` and `{0[key]}` go through the policy's guards."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, str]:
        first, rest = _string.formatter_field_name_split(field_name)
        obj = self.get_value(first, args, kwargs)
        for is_attribute, key in rest:
            guard = self._policy.getattr if is_attribute else self._policy.getitem
            obj = guard(obj, key)
        return obj, first


_INPLACE_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "@=": operator.imatmul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "^=": operator.ixor,
    "|=": operator.ior,
}


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    return _INPLACE_OPERATORS[op](target, value)


def _apply(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return function(*args, **kwargs)


def _type(obj: Any) -> type:
    """`type(x)` only. The three-argument form stays reachable (`type(int)` is `type`, and
    every metaclass can build classes), so the policy does not rest on forbidding classes
    with arbitrary namespaces: it rests on no private attribute of anything being read, and
    `modules.harden_stdlib` closes the stdlib places that turned such classes into code."""
    return type(obj)


def _dir(obj: Any) -> list[str]:
    return sorted(name for name in builtins.dir(obj) if not name.startswith("_"))


def _exit(code: Any = None) -> NoReturn:
    raise SystemExit(code)


# Harmless builtins, taken as they are. RestrictedPython leaves out sorted, reversed, zip, ...
# because they iterate in C past `_getiter_`; that matters for Zope's per-item security, not
# here, where `_getiter_` is plain `iter` and the process walls do the containing.
_PLAIN_BUILTINS = (
    "None", "False", "True", "Ellipsis", "NotImplemented", "abs", "all", "any", "ascii", "bin",
    "bool", "bytearray", "bytes", "callable", "chr", "classmethod", "complex", "dict", "divmod",
    "enumerate", "filter", "float", "format", "frozenset", "hash", "hex", "id", "int",
    "isinstance", "issubclass", "iter", "len", "list", "map", "max", "min", "next", "object",
    "oct", "ord", "pow", "property", "range", "repr", "reversed", "round", "set", "slice",
    "sorted", "staticmethod", "str", "sum", "super", "tuple", "zip", "__build_class__",
)  # fmt: skip

_EXCLUDED_EXCEPTIONS = frozenset({"BaseExceptionGroup", "ExceptionGroup"})


def _base_builtins() -> dict[str, Any]:
    table: dict[str, Any] = {name: builtins.__dict__[name] for name in _PLAIN_BUILTINS}
    for name, value in builtins.__dict__.items():
        if (
            isinstance(value, type)
            and issubclass(value, BaseException)
            and name not in _EXCLUDED_EXCEPTIONS
        ):
            table[name] = value
    table.update(type=_type, dir=_dir, exit=_exit, quit=_exit)
    return table


def build_globals(
    proxies: Mapping[str, types.ModuleType], stdin: UserInput, facts: TestFacts
) -> dict[str, Any]:
    """The globals of one run: guards, builtins, the per-run `sys`, `unittest` and `doctest`.

    The program's streams are the interpreter's own `sys.stdout`/`sys.stderr` (the child sets
    them before the run), so what the standard library prints (pprint, unittest, doctest,
    warnings) reaches the output too, and `contextlib.redirect_stdout` works for `print`."""
    globals_: dict[str, Any] = {}
    per_run = {
        "sys": _sandbox_sys(stdin),
        "unittest": testing.unittest_module(proxies["unittest"], globals_, facts),
        "doctest": types.ModuleType("doctest"),
    }
    vars(per_run["doctest"]).update(vars(proxies["doctest"]))
    per_run["doctest"].testmod = testing.testmod_function(globals_, facts)  # type: ignore[attr-defined]
    policy = Policy({**proxies, **per_run})

    def print_(
        *objects: Any,
        sep: str | None = " ",
        end: str | None = "\n",
        file: Any = None,
        flush: bool = False,
    ) -> None:
        builtins.print(*objects, sep=sep, end=end, file=sys.stdout if file is None else file)

    def input_(prompt: Any = "") -> str:
        if prompt != "":
            sys.stdout.write(str(prompt))
        line = stdin.readline()
        if not line:
            raise EOFError("EOF when reading a line")
        text = line[:-1] if line.endswith("\n") else line
        # Echoed as a terminal shows what was typed: the output reads as the session did.
        sys.stdout.write(text + "\n")
        return text

    table = _base_builtins()
    table.update(
        print=print_,
        input=input_,
        getattr=policy.getattr,
        setattr=policy.setattr,
        delattr=policy.delattr,
        hasattr=policy.hasattr,
        __import__=policy.import_,
    )
    globals_.update({
        "__builtins__": table,
        "__name__": _MAIN,
        "_getattr_": policy.getattr,
        "_getitem_": policy.getitem,
        "_getiter_": iter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": policy.write,
        "_inplacevar_": _inplacevar,
        "_apply_": _apply,
    })  # fmt: skip
    return globals_


class _SandboxSys(types.ModuleType):
    """`sys.stdout`/`sys.stderr` are the interpreter's current ones (`redirect_stdout`
    changes them); the program cannot assign them, as it cannot write any module."""

    @property
    def stdout(self) -> Any:
        return sys.stdout

    @property
    def stderr(self) -> Any:
        return sys.stderr


def _sandbox_sys(stdin: UserInput) -> types.ModuleType:
    """A `sys` with the streams and a few harmless facts; not the interpreter's `sys`."""
    module = _SandboxSys("sys")

    def setrecursionlimit(limit: int) -> None:
        # Bounded so deep recursion ends as RecursionError rather than a C stack overflow.
        sys.setrecursionlimit(max(100, min(int(limit), _MAX_RECURSION_LIMIT)))

    values: dict[str, Any] = {
        "stdin": stdin,
        "argv": [FILENAME],
        "version": sys.version,
        "version_info": sys.version_info,
        "maxsize": sys.maxsize,
        "byteorder": sys.byteorder,
        "float_info": sys.float_info,
        "exit": _exit,
        "getrecursionlimit": sys.getrecursionlimit,
        "setrecursionlimit": setrecursionlimit,
        "get_int_max_str_digits": sys.get_int_max_str_digits,
        "set_int_max_str_digits": sys.set_int_max_str_digits,
    }
    for name, value in values.items():
        setattr(module, name, value)
    return module
