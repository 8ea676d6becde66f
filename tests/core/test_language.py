"""Diagnostics (pyflakes and the parser, in the AST worker) and Jedi's signatures, hover and
definitions through the engine's workers: known snippets, UTF-16 positions (emoji before
what is reported), and bad positions refused like completions' (docs/protocol.md
"Language")."""

from __future__ import annotations

import pytest

from editor_core.completion import CompletionEngine
from editor_core.completion.diagnostics import diagnose
from editor_core.completion.model import Definition, Diagnostic
from editor_core.positions import utf16_length

EMOJI = "\N{GRINNING FACE}"  # one code point, two UTF-16 units


def at(code: str, needle: str, offset: int = 0) -> int:
    """The UTF-16 offset of `needle` in `code` (plus `offset` code points)."""
    return utf16_length(code[: code.index(needle) + offset])


def test_a_syntax_error_after_emoji_is_placed_in_utf16_units() -> None:
    code = f's = "{EMOJI}{EMOJI}"\nx = (1,\n'
    [found] = diagnose(code)
    assert found == Diagnostic(at(code, "("), at(code, "(") + 1, "error",
                               "'(' was never closed", "syntax")
    code = f'# {EMOJI}\ns = "{EMOJI}" $ 1\n'
    [found] = diagnose(code)
    assert (found.from_, found.to, found.source) == (at(code, "$"), at(code, "$") + 1, "syntax")


def test_pyflakes_findings_after_emoji_cover_their_name() -> None:
    code = f's = "{EMOJI}"; import os\nprint("{EMOJI}", undefined_name)\nfrom m import *\n'
    found = diagnose(code)
    assert [(d.from_, d.to, d.severity, d.message) for d in found] == [
        (at(code, "os"), at(code, "os") + 2, "warning", "'os' imported but unused"),
        (at(code, "undefined_name"), at(code, "undefined_name") + 14, "error",
         "undefined name 'undefined_name'"),
        (at(code, "m import"), at(code, "m import") + 1, "warning",
         "'from m import *' used; unable to detect undefined names"),
        (at(code, "m import"), at(code, "m import") + 1, "warning",
         "'m.*' imported but unused"),
    ]
    assert {d.source for d in found} == {"pyflakes"}


def test_redefinitions_unused_locals_and_clean_code() -> None:
    code = "import os\nimport os\n\ndef f():\n    x = 1\n\nos.getcwd()\n"
    found = diagnose(code)
    assert [(d.severity, d.message) for d in found] == [
        ("warning", "redefinition of unused 'os' from line 1"),
        ("warning", "local variable 'x' is assigned to but never used"),
    ]
    assert found[1].from_ == at(code, "x =")
    assert diagnose("import os\nprint(os.sep)\n") == []
    assert diagnose("") == []


def test_nul_and_an_error_at_the_very_end_stay_inside_the_document() -> None:
    [nul] = diagnose("a\x00b")
    assert (nul.from_, nul.to, nul.severity) == (0, 1, "error")
    code = "def f("
    [end] = diagnose(code)
    assert 0 <= end.from_ <= end.to <= len(code)
    # At the end of a line: the character before the error, so that it can be underlined.
    [plus] = diagnose("x = 1 +\n")
    assert (plus.from_, plus.to, plus.message) == (6, 7, "invalid syntax")


async def test_diagnostics_in_the_worker_are_the_analysis(engine: CompletionEngine) -> None:
    code = f'# {EMOJI}\nimport os\nprint(nope)\n'
    assert await engine.diagnostics(code) == diagnose(code)
    assert await engine.diagnostics("x = (\n") == diagnose("x = (\n")


async def test_signatures_name_the_active_parameter(engine: CompletionEngine) -> None:
    code = f'"{EMOJI}"\ndef area(width, height=2):\n    """Width times height."""\n' \
           "    return width * height\n\narea(3, "
    [sig] = await engine.signatures(code, utf16_length(code))
    assert sig.label == "area(width, height=2)"
    assert [p.label for p in sig.parameters] == ["width", "height=2"]
    assert sig.active_parameter == 1
    assert sig.documentation == "Width times height."
    assert await engine.signatures(code, at(code, "def")) == []


async def test_hover_describes_functions_variables_and_modules(engine: CompletionEngine) -> None:
    code = f'"{EMOJI}"\nimport math\ndef area(w):\n    """Area."""\n    return w\n' \
           "n = 3\narea(n)\nmath.sqrt(n)\n"
    hover = await engine.hover(code, at(code, "area(n)", 2))
    assert hover is not None
    assert (hover.from_, hover.to) == (at(code, "area(n)"), at(code, "area(n)") + 4)
    assert hover.contents == "```python\ndef area(w)\n```\n\nArea."
    variable = await engine.hover(code, at(code, "n)"))
    assert variable is not None
    assert variable.contents == "```python\nn: int\n```"
    sqrt = await engine.hover(code, at(code, "sqrt", 1))
    assert sqrt is not None
    assert sqrt.contents.startswith("```python\ndef sqrt(")
    assert await engine.hover(code, at(code, " = 3", 1)) is None  # between " " and "="


async def test_definition_in_the_document_or_a_library_module(engine: CompletionEngine) -> None:
    code = f'"{EMOJI}"\nimport os\ndef area(w):\n    return w\narea(1)\nos.getcwd()\n'
    assert await engine.definition(code, at(code, "area(1)", 1)) == Definition(
        from_=at(code, "area(w)"), to=at(code, "area(w)") + 4)
    assert await engine.definition(code, at(code, "getcwd", 2)) == Definition(
        module="os", name="getcwd")
    assert await engine.definition(code, 0) is None


@pytest.mark.parametrize("method", ["signatures", "hover", "definition"])
async def test_bad_positions_are_refused(engine: CompletionEngine, method: str) -> None:
    ask = getattr(engine, method)
    with pytest.raises(ValueError, match="past the end"):
        await ask("x = 1", 6)
    with pytest.raises(ValueError, match="negative"):
        await ask("x = 1", -1)
    with pytest.raises(ValueError, match="UTF-16"):
        await ask(f"{EMOJI}", 1)  # between the halves of a surrogate pair
