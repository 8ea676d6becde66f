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

import _string  # type: ignore[import-not-found]
import abc
import array
import base64
import binascii
import bisect
import builtins
import calendar
import cmath
import collections
import collections.abc
import contextlib
import copy
import csv
import dataclasses
import datetime
import decimal
import difflib
import doctest
import enum
import fractions
import functools
import graphlib
import hashlib
import heapq
import hmac
import io
import itertools
import json
import keyword
import linecache
import math
import numbers
import operator
import pprint
import random
import re
import secrets
import statistics
import string
import struct
import textwrap
import time
import traceback
import types
import typing
import unicodedata
import unittest
import uuid
import warnings
import zlib
from collections.abc import Callable
from typing import Any, NoReturn

from editor_core.execution import safe_copy, stand_ins, testing

_ALLOWED: dict[str, types.ModuleType] = {
    "__future__": __future__,
    "abc": abc,
    "array": array,
    "base64": base64,
    "binascii": binascii,
    "bisect": bisect,
    "calendar": calendar,
    "cmath": cmath,
    "collections": collections,
    "collections.abc": collections.abc,
    "contextlib": contextlib,
    "copy": copy,
    "csv": csv,
    "dataclasses": dataclasses,
    "datetime": datetime,
    "decimal": decimal,
    "difflib": difflib,
    "doctest": doctest,
    "enum": enum,
    "fractions": fractions,
    "functools": functools,
    "graphlib": graphlib,
    "hashlib": hashlib,
    "heapq": heapq,
    "hmac": hmac,
    "io": io,
    "itertools": itertools,
    "json": json,
    "keyword": keyword,
    "math": math,
    "numbers": numbers,
    "operator": operator,
    "pprint": pprint,
    "random": random,
    "re": re,
    "secrets": secrets,
    "statistics": statistics,
    "string": string,
    "struct": struct,
    "textwrap": textwrap,
    "time": time,
    "traceback": traceback,
    "typing": typing,
    "unicodedata": unicodedata,
    "unittest": unittest,
    "uuid": uuid,
    "warnings": warnings,
    "zlib": zlib,
}

ALLOWED_MODULE_NAMES = (*sorted(name for name in _ALLOWED if name != "__future__"), "sys")

# Stand-ins: modules of which a program gets only these names (docs/sandbox.md says why).
_ONLY: dict[str, frozenset[str]] = {
    # In memory only: no open(), FileIO, or anything with a file descriptor.
    "io": frozenset(
        {"StringIO", "BytesIO", "SEEK_SET", "SEEK_CUR", "SEEK_END", "UnsupportedOperation"}
    ),
    # Clocks, sleep and conversions; not tzset (reads TZ files) nor the clock setters.
    "time": frozenset(
        {
            "time", "time_ns", "sleep", "monotonic", "monotonic_ns", "perf_counter",
            "perf_counter_ns", "process_time", "process_time_ns", "thread_time",
            "thread_time_ns", "gmtime", "localtime", "mktime", "asctime", "ctime",
            "strftime", "strptime", "struct_time", "get_clock_info", "timezone", "altzone",
            "daylight", "tzname",
        }
    ),
    # Random and name-based UUIDs; uuid1/getnode read the network interfaces (a subprocess
    # or files).
    "uuid": frozenset(
        {
            "UUID", "uuid3", "uuid4", "uuid5", "NAMESPACE_DNS", "NAMESPACE_URL",
            "NAMESPACE_OID", "NAMESPACE_X500", "RESERVED_NCS", "RFC_4122",
            "RESERVED_MICROSOFT", "RESERVED_FUTURE", "SafeUUID",
        }
    ),
    # Formatting of the program's own exceptions; nothing that walks frames.
    "traceback": frozenset(stand_ins.TRACEBACK),
    # Warn and filter; not the process-wide `filters` list, showwarning or the registries.
    "warnings": frozenset(stand_ins.WARNINGS),
    "copy": frozenset({"copy", "deepcopy", "Error", "error"}),
    # No mock (it patches anything), no signal handlers, no loading by name or from files.
    "unittest": testing.UNITTEST_NAMES | frozenset(testing.UNITTEST_STAND_INS),
    # testmod of the program only, added per run (see testing.py).
    "doctest": testing.DOCTEST_NAMES,
}  # fmt: skip
# Attributes that replace the real module's in a stand-in.
_REPLACED: dict[str, dict[str, Any]] = {
    "traceback": stand_ins.TRACEBACK,
    "warnings": stand_ins.WARNINGS,
    "copy": {"copy": safe_copy.copy, "deepcopy": safe_copy.deepcopy},
    "unittest": testing.UNITTEST_STAND_INS,
}

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
    # Returns (getattr, ...) for pickle: the real getattr, out of a tuple, past every guard.
    "enum": frozenset({"pickle_by_enum_name"}),
    # Command-line tools that read files and sys.argv.
    "base64": frozenset({"main", "test"}),
    # The Locale* calendars switch the process's locale (locale files); main() is the CLI.
    "calendar": frozenset({"LocaleTextCalendar", "LocaleHTMLCalendar", "different_locale", "main"}),
    # chdir changes the working directory.
    "contextlib": frozenset({"chdir"}),
    # Reads a file object by its descriptor.
    "hashlib": frozenset({"file_digest"}),
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
    dataclasses.make_dataclass,
    string.Formatter,
    # What the stand-ins leave out: frame walkers, file readers, the real entry points.
    copy.copy,
    copy.deepcopy,
    io.open,
    io.FileIO,
    time.tzset,
    uuid.uuid1,
    uuid.getnode,
    contextlib.chdir,
    hashlib.file_digest,
    linecache.getline,
    linecache.getlines,
    linecache.updatecache,
    traceback.walk_stack,
    traceback.walk_tb,
    traceback.extract_stack,
    traceback.format_stack,
    traceback.print_stack,
    traceback.TracebackException,
    traceback.StackSummary,
    warnings.showwarning,
    unittest.main,
    unittest.TestProgram,
    unittest.TestLoader,
    doctest.testmod,
    doctest.testfile,
    doctest.run_docstring_examples,
    doctest.DocTestRunner,
    doctest.DocTestParser,
    doctest.DocTestSuite,
)
_DENIED_IDS = frozenset(id(value) for value in DENIED_CALLABLES)


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

    And the places where one reads attributes named by the program, dunders included:

    - `functools.update_wrapper(wrapper, wrapped, assigned=("__globals__",))` copies any
      attribute across (and `functools.wraps()` returns a partial whose `.keywords` dict a
      program can edit): only the default attribute lists are accepted.
    - `string.Formatter().get_field` (the class is kept out of the proxies, this is in case
      a path to it turns up) walks "{0.__class__}": attributes starting with "_" refused.
    - `dataclasses.replace(obj)` reads `getattr(obj, f.name)` for whatever objects sit in
      `obj.__dataclass_fields__`, which a class built with `type()` fills at will: only real
      `Field`s (their names went through the check above) are read.
    """
    if getattr(dataclasses.dataclass, "_pairpad_checked", False):
        return
    _harden_outside_world()
    # Fail closed: if a new Python moved the eval, the fork server must not start (every run
    # then ends "killed" and the error is logged) until this is vetted again.
    evaluators = [name for name in ("_evaluate", "evaluate") if hasattr(typing.ForwardRef, name)]
    if not evaluators or not hasattr(dataclasses, "_FIELD_CLASSVAR"):
        raise RuntimeError("harden_stdlib was vetted for Python 3.11; vet it for this one")
    for name in evaluators:
        setattr(typing.ForwardRef, name, _refuse_evaluation)
    checked = _checked_dataclass(dataclasses.dataclass)
    checked._pairpad_checked = True  # type: ignore[attr-defined]
    dataclasses.dataclass = checked
    dataclasses.replace = _checked_replace
    string.Formatter.get_field = _public_get_field  # type: ignore[method-assign]
    functools.update_wrapper = _checked_update_wrapper(functools.update_wrapper)


def _harden_outside_world() -> None:
    """The stand-ins' half in the real modules, which allowed modules call internally:

    - `copy.copy`/`deepcopy` (which `dataclasses.asdict` and others call) are the vetted
      ones of safe_copy.py, which skip hooks a program planted;
    - `linecache` never reads a file (tracebacks and warnings quote only the program, whose
      source is put in its cache);
    - a warning raised outside the program names no path of this machine;
    - doctest compiles examples with the policy, and unittest hands out no logger
      (testing.harden_testing).
    """
    copy.copy = safe_copy.copy
    copy.deepcopy = safe_copy.deepcopy
    linecache.updatecache = _no_file
    linecache.lazycache = lambda *args, **kwargs: False
    warnings.WarningMessage = stand_ins.WarningMessage  # type: ignore[misc]
    testing.harden_testing()


def _no_file(filename: object, module_globals: object = None) -> list[str]:
    return []


def _refuse_evaluation(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError("string annotations are not evaluated here; use the type itself")


def _checked_dataclass(real: Callable[..., Any]) -> Callable[..., Any]:
    def check(cls: Any) -> Any:
        # Exactly what dataclasses (3.11) reads, not what inspect would compute.
        for name in cls.__dict__.get("__annotations__", {}):  # noqa: RUF063
            if not _is_field_name(name):
                raise TypeError(f"{name!r} is not a valid field name")
        return cls

    @functools.wraps(real)
    def dataclass(cls: Any = None, /, **options: Any) -> Any:
        if cls is None:
            return lambda cls: real(check(cls), **options)
        return real(check(cls), **options)

    return dataclass


def _is_field_name(name: object) -> bool:
    return (
        type(name) is str
        and name.isidentifier()
        and not keyword.iskeyword(name)
        and (name == "_" or not name.startswith("_"))
    )


def _checked_replace(obj: Any, /, **changes: Any) -> Any:
    """`dataclasses.replace` of Python 3.11, reading only real, checked `Field`s."""
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise TypeError("replace() should be called on dataclass instances")
    table = obj.__dataclass_fields__  # read once: what is checked is what is used
    if type(table) is not dict:
        raise TypeError("replace() should be called on dataclass instances")
    for field in list(table.values()):
        if type(field) is not dataclasses.Field or not _is_field_name(field.name):
            raise TypeError("replace() should be called on dataclass instances")
        kind = field._field_type  # type: ignore[attr-defined]
        if kind is dataclasses._FIELD_CLASSVAR:  # type: ignore[attr-defined]
            continue
        if not field.init:
            if field.name in changes:
                raise ValueError(
                    f"field {field.name} is declared with init=False, "
                    "it cannot be specified with replace()"
                )
            continue
        if field.name not in changes:
            if (
                kind is dataclasses._FIELD_INITVAR  # type: ignore[attr-defined]
                and field.default is dataclasses.MISSING
            ):
                raise ValueError(f"InitVar {field.name!r} must be specified with replace()")
            changes[field.name] = getattr(obj, field.name)
    return obj.__class__(**changes)


def _public_get_field(
    self: string.Formatter, field_name: str, args: Any, kwargs: Any
) -> tuple[Any, str]:
    first, rest = _string.formatter_field_name_split(field_name)
    obj = self.get_value(first, args, kwargs)
    for is_attribute, key in rest:
        if is_attribute:
            if key.startswith("_"):
                raise AttributeError(f'"{key}" is not allowed: names starting with "_" are private')
            obj = getattr(obj, key)
        else:
            obj = obj[key]
    return obj, first


def _checked_update_wrapper(real: Callable[..., Any]) -> Callable[..., Any]:
    defaults = (frozenset(functools.WRAPPER_ASSIGNMENTS), frozenset(functools.WRAPPER_UPDATES))

    def update_wrapper(
        wrapper: Any,
        wrapped: Any,
        assigned: Any = functools.WRAPPER_ASSIGNMENTS,
        updated: Any = functools.WRAPPER_UPDATES,
    ) -> Any:
        if isinstance(wrapper, type) and wrapper.__module__ != "__main__":
            # It would set `__module__` and make a stdlib class look like the program's own
            # (see policy._is_own), and so writable.
            raise TypeError("only the program's own classes can be updated")
        assigned, updated = tuple(assigned), tuple(updated)  # iterated once, then checked
        for names, allowed in zip((assigned, updated), defaults, strict=True):
            if not all(type(name) is str and name in allowed for name in names):
                raise TypeError("only the default attributes can be copied")
        return real(wrapper, wrapped, assigned, updated)

    update_wrapper.__doc__ = real.__doc__
    return update_wrapper


def _is_exportable(name: str, value: object) -> bool:
    return (
        not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and id(value) not in _DENIED_IDS
        and type(value).__name__ != "PyCapsule"
    )


def build_proxies() -> dict[str, types.ModuleType]:
    """A proxy module for every importable name (except `sys`, which is per run, and the
    per-run parts of `unittest` and `doctest`: see policy.build_globals)."""
    proxies: dict[str, types.ModuleType] = {}
    for name, module in _ALLOWED.items():
        proxy = types.ModuleType(name)
        excluded = _EXCLUDED.get(name, frozenset())
        only = _ONLY.get(name)
        replaced = _REPLACED.get(name, {})
        for attribute, value in vars(module).items():
            if attribute in excluded or (only is not None and attribute not in only):
                continue
            value = replaced.get(attribute, value)
            if not _is_exportable(attribute, value):
                continue
            setattr(proxy, attribute, value)
        for attribute, value in replaced.items():
            setattr(proxy, attribute, value)
        if name == "__future__":
            # Feature names are instances of a private class, but harmless.
            for feature in __future__.all_feature_names:
                setattr(proxy, feature, getattr(__future__, feature))
        proxies[name] = proxy
    # `import collections.abc` binds `collections` and reads `.abc` from it.
    proxies["collections"].abc = proxies["collections.abc"]  # type: ignore[attr-defined]
    return proxies
