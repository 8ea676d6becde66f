"""The expectation cases in completion_cases/ (format: its README.md), through the engine
and through `symbols_at` alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from editor_core.completion import CompletionEngine, Symbols, symbols_at
from editor_core.positions import index_to_utf16

CASES = Path(__file__).parent / "completion_cases"
CURSOR = "<CURSOR>"
CATEGORIES = ("globals", "functions", "classes", "imports", "params", "locals")


@dataclass
class Case:
    name: str
    code: str
    position: int  # UTF-16
    labels: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)
    source: str | None = None
    symbols: dict[str, list[str]] = field(default_factory=dict)


def load_case(path: Path) -> Case:
    header, _, body = path.read_text(encoding="utf-8").partition("\n---\n")
    index = body.index(CURSOR)
    code = body.replace(CURSOR, "", 1)
    case = Case(path.stem, code, index_to_utf16(code, index))
    case.symbols = {category: [] for category in CATEGORIES}
    for line in header.splitlines():
        key, _, value = line.removeprefix("#").partition(":")
        key, words = key.strip(), value.split()
        if key == "labels":
            case.labels = words
        elif key == "absent":
            case.absent = words
        elif key == "kinds":
            case.kinds = dict(word.split("=", 1) for word in words)
        elif key == "source":
            case.source = words[0]
        elif key.startswith("symbols."):
            case.symbols[key.removeprefix("symbols.")] = words
        else:
            raise AssertionError(f"{path.name}: unknown header {key!r}")
    return case


ALL_CASES = [load_case(path) for path in sorted(CASES.glob("*.case"))]


def expected_symbols(case: Case) -> Symbols:
    return Symbols(**{category: case.symbols[category] for category in CATEGORIES})


def test_there_are_cases() -> None:
    assert len(ALL_CASES) >= 10


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda case: case.name)
def test_symbols_at(case: Case) -> None:
    assert symbols_at(case.code, case.position) == expected_symbols(case)


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda case: case.name)
async def test_engine(engine: CompletionEngine, case: Case) -> None:
    completion = await engine.complete(case.code, case.position)
    assert completion is not None
    by_label = {s.label: s for s in completion.suggestions}
    for label in case.labels:
        assert label in by_label, f"{label!r} missing from {sorted(by_label)}"
    for label in case.absent:
        assert label not in by_label
    for label, kind in case.kinds.items():
        assert by_label[label].kind == kind
    if case.source is not None:
        assert {s.source for s in completion.suggestions} == {case.source}
    assert completion.symbols == expected_symbols(case)
    # `from` is where the typed word starts: every label extends the typed part.
    typed = case.code[: len(case.code)][completion.from_ : case.position]
    assert all(s.label.lower().startswith(typed.lower()) for s in completion.suggestions)
