"""The modules a program may import, handed over as vetted copies ("proxies").

A proxy is a fresh module object holding only the public attributes of the real module that
are not modules themselves and not on the deny list below. That closes the known traps at the
source: `json.codecs`, `re.enum`, `datetime.sys`, `typing.sys` are modules and are left out,
and because `from m import name` reads the proxy directly (it does not pass through
`_getattr_`), private names are simply not there to be imported.

Built once in the fork server, before any fork: every run gets a copy-on-write copy of the same
proxies, so a program that scribbles on one cannot affect the next run.
"""

from __future__ import annotations
import __future__

import bisect
import builtins
import collections
import collections.abc
import dataclasses
import datetime
import decimal
import enum
import fractions
import functools
import heapq
import itertools
import json
import keyword
import math
import operator
import random
import re
import statistics
import string
import textwrap
import types
import typing
from collections.abc import Callable
from typing import Any, NoReturn

_ALLOWED: dict[str, types.ModuleType] = {
    "__future__": __future__,
    "bisect": bisect,
    "collections": collections,
    "collections.abc": collections.abc,
    "dataclasses": dataclasses,
    "datetime": datetime,
    "decimal": decimal,
    "enum": enum,
    "fractions": fractions,
    "functools": functools,
    "heapq": heapq,
    "itertools": itertools,
    "json": json,
    "math": math,
    "random": random,
    "re": re,
    "statistics": statistics,
    "string": string,
    "textwrap": textwrap,
    "typing": typing,
}

ALLOWED_MODULE_NAMES = (*sorted(name for name in _ALLOWED if name != "__future__"), "sys")

# Public attributes that would undo the policy, per module, and why:
_EXCLUDED: dict[str, frozenset[str]] = {
    # Formatter.get_field walks attributes of its arguments: "{0.__class__}".
    "string": frozenset({"Formatter"}),
    # get_type_hints / ForwardRef evaluate strings with eval(), outside RestrictedPython.
    "typing": frozenset({"get_type_hints", "ForwardRef"}),
    # Builds classes from caller-supplied field names, dunders included, whose values
    # asdict()/replace() then read with a plain getattr().
    "dataclasses": frozenset({"make_dataclass"}),
    # A capsule of C pointers: nothing a program needs.
    "datetime": frozenset({"datetime_CAPI"}),
}

# Callables that must never reach a program, whatever public name leads to them: they read
# arbitrary attributes (dunders included), evaluate code, or open files.
DENIED_CALLABLES: tuple[object, ...] = (
    builtins.eval,
    builtins.exec,
    builtins.compile,
    builtins.open,
    builtins.__import__,
    builtins.getattr,
    builtins.setattr,
    builtins.delattr,
    builtins.vars,
    builtins.globals,
    builtins.locals,
    builtins.breakpoint,
    builtins.input,
    operator.attrgetter,
    operator.methodcaller,
    typing.get_type_hints,
    functools.update_wrapper,
    functools.wraps,
    dataclasses.make_dataclass,
    string.Formatter,
)
_DENIED_IDS = frozenset(id(value) for value in DENIED_CALLABLES)


def _safe_update_wrapper(wrapper: Any, wrapped: Any) -> Any:
    """`functools.update_wrapper` without `assigned`/`updated`: with them, it copies any
    attribute (`__globals__` too) from one object to another."""
    return functools.update_wrapper(wrapper, wrapped)


def _safe_wraps(wrapped: Any) -> Callable[[Any], Any]:
    """`functools.wraps` without `assigned`/`updated` (see `_safe_update_wrapper`)."""
    return functools.wraps(wrapped)


_REPLACED: dict[str, dict[str, object]] = {
    "functools": {"update_wrapper": _safe_update_wrapper, "wraps": _safe_wraps},
}


def harden_stdlib() -> None:
    """Close the places where an allowed module runs code built from strings a program
    controls; RestrictedPython never sees that code. Patched in the real modules, in the fork
    server only (the server's own process is untouched), so that no path reaches the
    originals: not a proxy attribute, not an internal call.

    - `typing.ForwardRef._evaluate` is the one `eval()` in typing. It runs string annotations
      for `get_type_hints`, which `functools.singledispatch().register` calls on a function
      annotated `x: "().__class__.__base__.__subclasses__()"`.
    - `dataclasses.dataclass` builds `__init__`, `__repr__`, ... as source text with the field
      names in it, and `exec`s it. A class made by `TypedDict("T", {"a=evil()": int})` or by
      three-argument `type()` (both reachable) can have any string as an annotation name.
    """
    typing.ForwardRef._evaluate = _refuse_evaluation  # type: ignore[method-assign]
    if not getattr(dataclasses.dataclass, "_pairpad_checked", False):
        dataclasses.dataclass = _checked_dataclass(dataclasses.dataclass)


def _refuse_evaluation(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError("string annotations are not evaluated here; use the type itself")


def _checked_dataclass(real: Callable[..., Any]) -> Callable[..., Any]:
    def check(cls: Any) -> Any:
        # Exactly what dataclasses (3.11) reads, not what inspect would compute.
        for name in cls.__dict__.get("__annotations__", {}):  # noqa: RUF063
            if not (
                isinstance(name, str)
                and name.isidentifier()
                and not keyword.iskeyword(name)
                and (name == "_" or not name.startswith("_"))
            ):
                raise TypeError(f"{name!r} is not a valid field name")
        return cls

    @functools.wraps(real)
    def dataclass(cls: Any = None, /, **options: Any) -> Any:
        if cls is None:
            return lambda cls: real(check(cls), **options)
        return real(check(cls), **options)

    dataclass._pairpad_checked = True  # type: ignore[attr-defined]
    return dataclass


def _is_exportable(name: str, value: object) -> bool:
    return (
        not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and id(value) not in _DENIED_IDS
        and type(value).__name__ != "PyCapsule"
    )


def build_proxies() -> dict[str, types.ModuleType]:
    """A proxy module for every importable name (except `sys`, which is per run)."""
    proxies: dict[str, types.ModuleType] = {}
    for name, module in _ALLOWED.items():
        proxy = types.ModuleType(name)
        excluded = _EXCLUDED.get(name, frozenset())
        for attribute, value in vars(module).items():
            if attribute in excluded or not _is_exportable(attribute, value):
                continue
            setattr(proxy, attribute, value)
        if name == "__future__":
            # Feature names are instances of a private class, but harmless.
            for feature in __future__.all_feature_names:
                setattr(proxy, feature, getattr(__future__, feature))
        for attribute, value in _REPLACED.get(name, {}).items():
            setattr(proxy, attribute, value)
        proxies[name] = proxy
    # `import collections.abc` binds `collections` and reads `.abc` from it.
    proxies["collections"].abc = proxies["collections.abc"]  # type: ignore[attr-defined]
    return proxies
