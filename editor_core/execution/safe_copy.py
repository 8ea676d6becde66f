"""`copy` as a program sees it: the standard `copy`/`deepcopy`, minus the hooks a program
could plant.

The real module asks the object how to copy it (`__copy__`, `__deepcopy__`, `__reduce_ex__`,
`__getstate__`, `__setstate__`, ...) and then obeys: it calls what the reduce value names and
writes its "state" with a plain `setattr`, names starting with "_" included, on whatever
object came back. A class the program builds with three-argument `type()` can define any of
these hooks, so the real module would write private attributes of objects the policy never
lets a program write (docs/sandbox.md "What it may not do"). This is CPython 3.11's copy
algorithm with one change: hooks are used only when no class the program made defines them.

Which classes the program made: every heap type that did not exist when the fork server took
its snapshot (`trust_existing_classes`, before any fork). Static types are the interpreter's.
"""

from __future__ import annotations

import copy as _real
import gc
import types
import weakref
from collections import namedtuple
from copyreg import dispatch_table
from dataclasses import dataclass
from typing import Any

Error = _real.Error

# Names through which copying runs code of the object's class (on the class, its metaclass
# and their bases). `__slotnames__` is not one: copyreg caches plain slot names there itself.
_HOOKS = frozenset(
    {
        "__copy__", "__deepcopy__", "__reduce__", "__reduce_ex__", "__getstate__",
        "__setstate__", "__getnewargs__", "__getnewargs_ex__", "__getattr__",
        "__getattribute__",
    }
)  # fmt: skip
_HEAPTYPE = 1 << 9
# Strong references keep the ids below from being reused by a program's class.
_trusted: list[type] = []
_trusted_ids: frozenset[int] = frozenset()
# Hooks that the standard library itself puts on classes it makes for a program.
_trusted_hook_ids: frozenset[int] = frozenset()


def trust_existing_classes() -> None:
    """Take the snapshot: every class alive now is the interpreter's or the standard
    library's. Called once in the fork server; until then no heap type's hooks are used."""
    global _trusted_ids, _trusted_hook_ids
    _trusted[:] = [obj for obj in gc.get_objects() if isinstance(obj, type)]
    _trusted_ids = frozenset(map(id, _trusted))
    sample = namedtuple("sample", "a")
    hooks: list[Any] = [sample.__getnewargs__.__code__]  # type: ignore[attr-defined]

    @dataclass(frozen=True, slots=True)
    class Slotted:
        a: int

    hooks += [vars(Slotted)["__getstate__"].__code__, vars(Slotted)["__setstate__"].__code__]
    _trusted_hook_ids = frozenset(map(id, hooks))
    _trusted.extend([sample, Slotted])


def _type_attribute(cls: type, name: str) -> Any:
    # The real slot, whatever a metaclass says its attributes are.
    return type.__dict__[name].__get__(cls)


def _is_trusted_hook(value: Any) -> bool:
    code = getattr(value, "__code__", None) if isinstance(value, types.FunctionType) else None
    return code is not None and id(code) in _trusted_hook_ids


def _vet(cls: type) -> None:
    """Refuse a class whose copying would run hooks the program made."""
    for owner in (cls, type(cls)):
        for klass in _type_attribute(owner, "__mro__"):
            if not _type_attribute(klass, "__flags__") & _HEAPTYPE or id(klass) in _trusted_ids:
                continue
            namespace = _type_attribute(klass, "__dict__")
            for name in _HOOKS & set(namespace):
                if not _is_trusted_hook(namespace[name]):
                    raise Error(f"cannot copy {cls.__name__} objects: their class defines {name}")


def _by_identity(table: dict[type, Any], cls: type) -> Any:
    # Not `table.get(cls)`: that would hash and compare with a program's metaclass.
    for key, value in table.items():
        if key is cls:
            return value
    return None


# Returned as they are (the real module's `_copy_immutable`/`_deepcopy_atomic` types).
_ATOMIC = (
    type(None), int, float, bool, complex, str, bytes, range, slice, property,
    types.BuiltinFunctionType, types.FunctionType, type(Ellipsis), type(NotImplemented),
    weakref.ref, type,
)  # fmt: skip
_ATOMIC_IDS = frozenset(map(id, _ATOMIC))
_SHALLOW_ATOMIC_IDS = _ATOMIC_IDS | {id(tuple), id(frozenset)}


def copy(x: Any) -> Any:
    """Shallow copy operation on arbitrary Python objects (the standard `copy.copy`)."""
    cls = type(x)
    if id(cls) in _SHALLOW_ATOMIC_IDS or issubclass(cls, type):
        return x
    for simple in (list, dict, set, bytearray):
        if cls is simple:
            return simple.copy(x)
    _vet(cls)
    copier = getattr(cls, "__copy__", None)
    if copier is not None:
        return copier(x)
    rv = _reduce(x, cls)
    if isinstance(rv, str):
        return x
    return _reconstruct(x, None, *rv)


def deepcopy(x: Any, memo: dict[int, Any] | None = None, _nil: Any = []) -> Any:  # noqa: B006
    """Deep copy operation on arbitrary Python objects (the standard `copy.deepcopy`)."""
    if memo is None:
        memo = {}
    d = id(x)
    y = memo.get(d, _nil)
    if y is not _nil:
        return y
    cls = type(x)
    if cls is list:
        y = []
        memo[d] = y
        y.extend(deepcopy(a, memo) for a in x)
    elif cls is tuple:
        items = [deepcopy(a, memo) for a in x]
        if d in memo:
            return memo[d]
        y = x if all(a is b for a, b in zip(items, x, strict=True)) else tuple(items)
    elif cls is dict:
        y = {}
        memo[d] = y
        for key, value in x.items():
            y[deepcopy(key, memo)] = deepcopy(value, memo)
    elif cls is types.MethodType:
        y = types.MethodType(x.__func__, deepcopy(x.__self__, memo))
    elif id(cls) in _ATOMIC_IDS or issubclass(cls, type):
        y = x
    else:
        _vet(cls)
        copier = getattr(cls, "__deepcopy__", None)
        if copier is not None:
            y = copier(x, memo)
        else:
            rv = _reduce(x, cls)
            y = x if isinstance(rv, str) else _reconstruct(x, memo, *rv)
    if y is not x:
        memo[d] = y
        memo.setdefault(id(memo), []).append(x)  # keep x alive as long as its id is a key
    return y


def _reduce(x: Any, cls: type) -> Any:
    reductor = _by_identity(dispatch_table, cls)
    if reductor is not None:
        return reductor(x)
    reductor = getattr(cls, "__reduce_ex__", None)
    if reductor is not None:
        return reductor(x, 4)
    reductor = getattr(cls, "__reduce__", None)
    if reductor is not None:
        return reductor(x)
    raise Error(f"un(deep)copyable object of type {cls}")


def _reconstruct(
    x: Any,
    memo: dict[int, Any] | None,
    func: Any,
    args: Any,
    state: Any = None,
    listiter: Any = None,
    dictiter: Any = None,
) -> Any:
    deep = memo is not None
    if deep and args:
        args = [deepcopy(arg, memo) for arg in args]
    y = func(*args)
    if memo is not None:
        memo[id(x)] = y
    if state is not None:
        if memo is not None:
            state = deepcopy(state, memo)
        _vet(type(y))
        setstate = getattr(type(y), "__setstate__", None)
        if setstate is not None:
            setstate(y, state)
        else:
            slotstate = None
            if isinstance(state, tuple) and len(state) == 2:
                state, slotstate = state
            if state is not None:
                y.__dict__.update(state)
            if slotstate is not None:
                for key, value in slotstate.items():
                    setattr(y, key, value)
    if listiter is not None:
        for item in listiter:
            y.append(deepcopy(item, memo) if memo is not None else item)
    if dictiter is not None:
        for key, value in dictiter:
            if memo is not None:
                key, value = deepcopy(key, memo), deepcopy(value, memo)
            y[key] = value
    return y
