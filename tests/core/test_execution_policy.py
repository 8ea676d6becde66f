"""The language policy in-process: what the proxies hold and what the guards refuse.

No `harden_stdlib()` here: it patches typing and dataclasses for the whole process, which is
right for the fork server and wrong for a test process shared with other suites.
"""

from __future__ import annotations

import types
from typing import Any

import pytest

from editor_core.execution.modules import DENIED_CALLABLES, build_proxies
from editor_core.execution.policy import Policy

DENIED_IDS = {id(value) for value in DENIED_CALLABLES}


def test_no_proxy_leads_to_a_module_frame_or_denied_callable() -> None:
    """Walk every public attribute of every proxy, of the classes in them, and of the
    containers in those, as a program could (iteration and unpacking pass no guard)."""
    proxies = build_proxies()
    proxy_ids = {id(proxy) for proxy in proxies.values()}
    seen: set[int] = set()
    found: list[str] = []

    def walk(obj: Any, path: str, depth: int) -> None:
        if id(obj) in seen or depth > 4:
            return
        seen.add(id(obj))
        if isinstance(obj, types.ModuleType) and id(obj) not in proxy_ids:
            found.append(f"module at {path}")
        elif isinstance(obj, (types.FrameType, types.CodeType, types.TracebackType)):
            found.append(f"frame or code at {path}")
        elif id(obj) in DENIED_IDS:
            found.append(f"denied callable at {path}")
        elif isinstance(obj, dict):
            for key, value in list(obj.items()):
                walk(value, f"{path}[{key!r}]", depth + 1)
        elif isinstance(obj, (list, tuple, set, frozenset)):
            for index, value in enumerate(list(obj)):
                walk(value, f"{path}[{index}]", depth + 1)
        elif isinstance(obj, (types.ModuleType, type)):
            for name, value in list(vars(obj).items()):
                if not name.startswith("_"):
                    walk(value, f"{path}.{name}", depth + 1)

    for name, proxy in proxies.items():
        walk(proxy, name, 0)
    assert found == []
    assert len(seen) > 500  # the walk did go somewhere


@pytest.fixture
def policy() -> Policy:
    return Policy(build_proxies())


@pytest.mark.parametrize(
    "name", ["__globals__", "__subclasses__", "__dict__", "_private", "gi_frame", "f_globals"]
)
def test_getattr_refuses_private_and_frame_names(policy: Policy, name: str) -> None:
    with pytest.raises(AttributeError):
        policy.getattr(test_getattr_refuses_private_and_frame_names, name)


def test_getattr_allows_the_readable_dunders(policy: Policy) -> None:
    assert policy.getattr(policy, "__class__") is Policy
    assert policy.getattr(Policy, "__name__") == "Policy"


def test_format_is_guarded_however_it_is_reached(policy: Policy) -> None:
    class Sly(str):
        pass

    reached = [
        policy.getattr("{0.__class__.__mro__}", "format"),
        policy.getattr(Sly("{0.__class__.__mro__}"), "format"),
        policy.getattr(super(Sly, Sly("{0.__class__.__mro__}")), "format"),
    ]
    for method in reached:
        with pytest.raises(AttributeError):
            method(1)
    unbound = policy.getattr(str, "format")
    with pytest.raises(AttributeError):
        unbound("{0.__class__.__mro__}", 1)
    assert unbound("{0}-{x}", 1, x=2) == "1-2"


def test_import_hook_hands_out_proxies_only(policy: Policy) -> None:
    json_proxy = policy.import_("json", None, None, ("dumps",), 0)
    assert json_proxy is policy.proxies["json"]
    assert not hasattr(json_proxy, "codecs")
    with pytest.raises(ImportError):
        policy.import_("os")
    with pytest.raises(ImportError):
        policy.import_("json", None, None, None, 1)  # relative
    # A program's `import time` gets the stand-in; only C code's own import (a list as
    # fromlist) gets the real module.
    stand_in = policy.import_("time", None, None, ("sleep",), 0)
    assert stand_in is policy.proxies["time"]
    assert not hasattr(stand_in, "tzset")
    real = policy.import_("time", None, None, [], 0)
    assert real is not stand_in
    assert hasattr(real, "tzset")
    with pytest.raises(ImportError):
        policy.import_("_strptime", None, None, ("x",), 0)


def test_writes_go_to_the_programs_own_objects_only(policy: Policy) -> None:
    own = type("Own", (), {"__module__": "__main__"})()
    policy.setattr(own, "x", 1)
    with pytest.raises(AttributeError):
        policy.setattr(own, "__class__", int)
    with pytest.raises(TypeError):
        policy.setattr(types.SimpleNamespace(), "x", 1)
    with pytest.raises(TypeError):
        policy.write(policy.proxies["math"]).pi = 3
    items: dict[str, int] = {}
    policy.write(items)["k"] = 1
    assert items == {"k": 1}
