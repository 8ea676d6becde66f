"""The editor's close codes (static/src/close_codes.js) are the contract's, as
editor_core/close_codes.py defines them: one name and value each, on both sides."""

from __future__ import annotations

import re
from pathlib import Path

from editor_core.close_codes import CloseCode

CLOSE_CODES_JS = Path(__file__).resolve().parents[2] / "static" / "src" / "close_codes.js"
# `NAME: 1234,` inside the frozen object literal (comments after the comma are allowed).
ENTRY = re.compile(r"^\s*([A-Z][A-Z0-9_]*)\s*:\s*(\d+)\s*,", re.MULTILINE)


def test_js_close_codes_equal_the_python_enum() -> None:
    text = CLOSE_CODES_JS.read_text(encoding="utf-8")
    pairs = ENTRY.findall(text)
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names)), "a name is defined twice in close_codes.js"
    assert {name: int(value) for name, value in pairs} == {c.name: c.value for c in CloseCode}
