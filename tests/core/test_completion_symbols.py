"""`symbols_at`: scopes by indentation, Python's visibility rules, and code that does not
parse (the document is usually mid-edit)."""

from __future__ import annotations

import dataclasses
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from editor_core.completion import Symbols, symbols_at
from editor_core.completion.fallback import Cursor, ast_completion, ast_suggestions, cursor_at
from editor_core.positions import index_to_utf16, utf16_length

CURSOR = "|"


def at_cursor(text: str) -> Symbols:
    index = text.index(CURSOR)
    code = text.replace(CURSOR, "", 1)
    return symbols_at(code, index_to_utf16(code, index))


def test_lambda_parameters_inside_the_lambda_only() -> None:
    inside = at_cursor("scale = 2\nf = lambda value, factor=1: value * |factor\n")
    assert inside.params == ["factor", "value"]
    outside = at_cursor("f = lambda value: value\n|")
    assert outside.params == []


def test_comprehension_variable_inside_the_comprehension_only() -> None:
    assert at_cursor("rows = [cell for cell in range(3) if |cell]\n").locals == ["cell"]
    assert at_cursor("rows = [cell for cell in range(3)]\n|").locals == []


def test_class_names_are_not_visible_from_its_methods() -> None:
    symbols = at_cursor(
        "class Account:\n"
        "    rate = 0.1\n"
        "    def interest(self, amount):\n"
        "        due = amount\n"
        "        return |\n"
        "    def close(self):\n"
        "        pass\n"
    )
    assert symbols.locals == ["due"]
    assert symbols.functions == []  # the methods are attributes, not names in scope
    assert symbols.params == ["amount", "self"]
    assert symbols.classes == ["Account"]


def test_decorated_async_and_one_line_functions() -> None:
    code = (
        "import functools\n"
        "@functools.cache\n"
        "async def fetch(url, *, retries=3):\n"
        "    async with open(url) as handle:\n"
        "        body = await handle.read()\n"
        "    |\n"
        "def double(x): return x * 2\n"
    )
    symbols = at_cursor(code)
    assert symbols.functions == ["double", "fetch"]
    assert symbols.params == ["retries", "url"]
    assert symbols.locals == ["body", "handle"]
    assert at_cursor("def double(x): y = x; return |y\n").params == ["x"]


def test_try_except_with_and_walrus_bindings() -> None:
    symbols = at_cursor(
        "try:\n"
        "    import tomllib as toml\n"
        "except ImportError as missing:\n"
        "    toml = None\n"
        "with open('f') as stream, open('g') as other:\n"
        "    pass\n"
        "if (size := 3) > 2:\n"
        "    pass\n"
        "for key, value in {}.items():\n"
        "    pass\n"
        "|"
    )
    assert symbols.imports == ["toml"]
    assert symbols.globals == ["key", "missing", "other", "size", "stream", "toml", "value"]


def test_unclosed_parenthesis_of_a_header() -> None:
    symbols = at_cursor(
        "import os\n"
        "class Job(\n"
        "def run(task, limit=10, *rest, **options\n"
        "    started = 1\n"
        "    for attempt in range(limit):\n"
        "        |\n"
    )
    assert symbols.functions == ["run"]
    assert symbols.classes == ["Job"]
    assert symbols.params == ["limit", "options", "rest", "task"]
    assert "started" in symbols.locals
    assert symbols.imports == ["os"]


def test_unfinished_import_statements() -> None:
    assert at_cursor("from os.path import (join,\n    split as cut,\n|").imports == [
        "cut",
        "join",
    ]
    assert at_cursor("import json, collections.abc as cabc, \n|").imports == ["cabc", "json"]


def test_blank_indented_line_belongs_to_the_block_above() -> None:
    code = "def first(a):\n    inner = a\n    |\n\ndef second(b):\n    pass\n"
    symbols = at_cursor(code)
    assert symbols.params == ["a"]
    assert symbols.locals == ["inner"]
    top = at_cursor("def first(a):\n    inner = a\n|\n")
    assert (top.params, top.locals, top.functions) == ([], [], ["first"])


def test_the_word_being_typed_is_not_a_symbol() -> None:
    assert at_cursor("import jso|").imports == []
    assert at_cursor("total = 1\ntot|").globals == ["total"]


def test_cursor_and_fallback_suggestions() -> None:
    code = "emoji = '\N{GRINNING FACE}'\nobj.attr_pre"
    cursor = cursor_at(code, utf16_length(code), len(code))
    assert cursor == Cursor(utf16_length(code) - len("attr_pre"), "attr_pre", True)
    assert ast_suggestions(Symbols.empty(), cursor) == []
    completion = ast_completion("import os\nOS_NAME = 1\nos", len("import os\nOS_NAME = 1\nos"))
    assert [s.label for s in completion.suggestions][:2] == ["os", "OS_NAME"]
    assert {s.source for s in completion.suggestions} == {"ast"}


def _valid_lists(symbols: Symbols) -> bool:
    lists = dataclasses.asdict(symbols).values()
    return all(names == sorted(set(names)) and all(names) for names in lists)


SAMPLE = (
    "import os\n"
    "from typing import Any\n"
    "LIMIT = 3\n"
    "class Box:\n"
    "    size: int = 0\n"
    "    def grow(self, by=1, *args, **kw):\n"
    "        self.size += by\n"
    "        items = [x for x in args if x]\n"
    "        return lambda y: y + self.size\n"
    "def main(argv):\n"
    "    '''Doc\n"
    "string'''\n"
    "    try:\n"
    "        box = Box()\n"
    "    except Exception as error:\n"
    "        raise SystemExit(error)\n"
)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_edit_of_a_document_gives_symbols(data: st.DataObject) -> None:
    """Cut, insert or delete anywhere: never an error, always sorted unique names."""
    start = data.draw(st.integers(0, len(SAMPLE)))
    end = data.draw(st.integers(start, min(len(SAMPLE), start + 20)))
    inserted = data.draw(st.text(alphabet=string.printable + "\N{GRINNING FACE}é", max_size=8))
    code = SAMPLE[:start] + inserted + SAMPLE[end:]
    position = data.draw(st.integers(0, utf16_length(code)))
    try:
        symbols = symbols_at(code, position)
    except ValueError:
        # Only a position between the two halves of a surrogate pair is refused.
        assert "\N{GRINNING FACE}" in code
        return
    assert _valid_lists(symbols)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_gives_symbols(code: str) -> None:
    symbols = symbols_at(code, 0)
    assert _valid_lists(symbols)
