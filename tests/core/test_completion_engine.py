"""CompletionEngine: UTF-16 positions, broken code, the answer's value, stale requests, the
AST fallback and the worker's lifecycle. No sleeps and no timed assertions: deadlines are
either out of reach (Jedi always answers) or zero (Jedi never does)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from editor_core.completion import Completion, CompletionEngine, Suggestion, Symbols, symbols_at
from editor_core.positions import utf16_length

EMOJI = "\N{GRINNING FACE}"  # one code point, two UTF-16 units


@pytest_asyncio.fixture(scope="module")
async def impatient() -> AsyncIterator[CompletionEngine]:
    """Deadline zero: every answer that is not cached is the AST fallback."""
    engine = CompletionEngine(deadline_s=0.0, hard_limit_s=120.0, preload=False)
    await engine.start()
    yield engine
    await engine.close()


async def complete_at_end(engine: CompletionEngine, code: str) -> Completion:
    completion = await engine.complete(code, utf16_length(code))
    assert completion is not None
    return completion


def labels(completion: Completion) -> list[str]:
    return [s.label for s in completion.suggestions]


async def test_math_sq_offers_sqrt(engine: CompletionEngine) -> None:
    completion = await complete_at_end(engine, "import math\nmath.sq")
    assert labels(completion) == ["sqrt"]
    sqrt = completion.suggestions[0]
    assert (sqrt.kind, sqrt.source) == ("function", "jedi")
    assert sqrt.detail is not None
    assert sqrt.detail.startswith("sqrt(")
    assert completion.from_ == len("import math\nmath.")
    assert not completion.incomplete  # Jedi's own answer


@pytest.mark.parametrize(
    "prefix",
    [
        f's = "{EMOJI}"; import math; math.sq',  # emoji on the cursor's line
        f"# {EMOJI}{EMOJI}\nt = '{EMOJI}'\nimport math\nmath.sq",  # on earlier lines
        f"# {EMOJI}\ns = '{EMOJI}'; import math; math.sq",  # both
    ],
)
async def test_utf16_positions(engine: CompletionEngine, prefix: str) -> None:
    code = prefix + "\nprint(s)\n"
    position = utf16_length(prefix)
    completion = await engine.complete(code, position)
    assert completion is not None
    assert "sqrt" in labels(completion)
    # `from` counts UTF-16 units: two back from the cursor, over "sq".
    assert completion.from_ == position - 2


async def test_non_ascii_identifier(engine: CompletionEngine) -> None:
    code = f"# {EMOJI}\ncafé_total = 1\ncafé_"
    completion = await complete_at_end(engine, code)
    assert labels(completion) == ["café_total"]
    assert not completion.incomplete  # Jedi's answer: the workers handle a non-ASCII word
    assert completion.from_ == utf16_length(code) - len("café_")
    assert completion.symbols.globals == ["café_total"]


async def test_broken_code_still_has_symbols(engine: CompletionEngine) -> None:
    code = (
        "import os\n"
        "from typing import List as L\n"
        "RATE = 3\n"
        "class Shape(:\n"
        "def area(side, scale=2:\n"
        "    result = side *\n"
        "    res"
    )
    completion = await complete_at_end(engine, code)
    assert completion.symbols == Symbols(
        globals=["RATE"],
        functions=["area"],
        classes=["Shape"],
        imports=["L", "os"],
        params=["scale", "side"],
        locals=["result"],
    )
    assert "result" in labels(completion)


async def test_same_version_is_cached(engine: CompletionEngine) -> None:
    code = "import json\njson.du"
    first = await complete_at_end(engine, code)
    second = await complete_at_end(engine, code)
    assert second is first
    assert {"dump", "dumps"} <= set(labels(first))


async def test_answer_value(engine: CompletionEngine) -> None:
    # The value the wire form is built from; its JSON shape is tests/server/test_wire_models.py.
    completion = await complete_at_end(engine, "import math\nx = 1\nmath.sq")
    assert completion == Completion(
        from_=len("import math\nx = 1\nmath."),
        suggestions=[
            Suggestion("sqrt", "function", completion.suggestions[0].detail, "jedi"),
        ],
        symbols=Symbols(
            globals=["x"], functions=[], classes=[], imports=["math"], params=[], locals=[],
        ),
    )


@pytest.mark.parametrize(
    ("code", "position"),
    [
        ("abc", -1),
        ("abc", 4),
        (f"x = '{EMOJI}'", 6),  # between the two halves of the emoji
        (f"{EMOJI}", 3),
    ],
)
async def test_invalid_positions_raise(
    engine: CompletionEngine, impatient: CompletionEngine, code: str, position: int
) -> None:
    with pytest.raises(ValueError, match=r"position|offset"):
        await engine.complete(code, position)
    with pytest.raises(ValueError, match=r"position|offset"):  # the fallback path checks too
        await impatient.complete(code, position)
    with pytest.raises(ValueError, match="offset"):
        symbols_at(code, position)


async def test_newer_request_with_same_key_drops_the_older(engine: CompletionEngine) -> None:
    older_code = "import string\nstring.asc"  # never asked before: both miss the cache
    newer_code = "import string\nstring.dig"
    older, newer, other = await asyncio.gather(
        engine.complete(older_code, utf16_length(older_code), key="room:alice"),
        engine.complete(newer_code, utf16_length(newer_code), key="room:alice"),
        engine.complete(older_code, utf16_length(older_code), key="room:bob"),
    )
    assert older is None
    assert newer is not None
    assert "digits" in labels(newer)
    # Another requester asking for the same thing still gets it.
    assert other is not None
    assert "ascii_letters" in labels(other)


async def test_late_jedi_gives_the_ast_answer(impatient: CompletionEngine) -> None:
    code = "import os\nLIMIT = 1\ndef run(limit_value):\n    li"
    completion = await complete_at_end(impatient, code)
    assert {s.source for s in completion.suggestions} == {"ast"}
    by_label = {s.label: s.kind for s in completion.suggestions}
    # Symbols filtered by the typed word (ignoring case), builtins and keywords.
    assert all(label.lower().startswith("li") for label in by_label)
    assert by_label["limit_value"] == "param"
    assert by_label["LIMIT"] == "variable"
    assert by_label["list"] == "class"
    assert list(by_label)[:2] == ["limit_value", "LIMIT"]  # nearest scope first
    assert completion.symbols.params == ["limit_value"]
    assert completion.from_ == utf16_length(code) - 2
    assert completion.incomplete  # docs/protocol.md: not Jedi's final answer


async def test_a_longer_deadline_per_request_waits_for_jedi(impatient: CompletionEngine) -> None:
    code = "import math\nangle = 1\nmath.co"
    early = await complete_at_end(impatient, code)  # the engine's own deadline: zero
    assert early.incomplete
    # The same request, willing to wait: not the provisional AST answer again, Jedi's.
    patient = await impatient.complete(code, utf16_length(code), deadline_s=120.0)
    assert patient is not None
    assert not patient.incomplete
    assert "cos" in labels(patient)
    fresh = "import math\nmath.fl"
    answer = await impatient.complete(fresh, utf16_length(fresh), deadline_s=120.0)
    assert answer is not None
    assert (answer.incomplete, labels(answer)) == (False, ["floor"])


async def test_ast_answer_after_a_dot_is_empty(impatient: CompletionEngine) -> None:
    completion = await complete_at_end(impatient, "import os\nos.pa")
    assert completion.suggestions == []
    assert completion.symbols.imports == ["os"]


async def test_workers_are_unprivileged_and_gone_after_close() -> None:
    # The production start: preload as root, then the privilege drop (the one engine of these
    # tests that preloads; a few seconds).
    engine = CompletionEngine(deadline_s=120.0, hard_limit_s=120.0)
    await engine.start()
    # Library listings still work after the drop, even where the library's directory is
    # closed to nobody (pyenv under /root): `import collec|` finds `collections`.
    assert "collections" in labels(await complete_at_end(engine, "import collec"))
    assert labels(await complete_at_end(engine, "import math\nmath.sq")) == ["sqrt"]
    pids = list(engine.worker_pids.values())
    assert len(pids) == 2
    for pid in pids:
        assert pid is not None
        status = await asyncio.to_thread(Path(f"/proc/{pid}/status").read_text)
        fields = {line.split(":")[0]: line.split()[1:] for line in status.splitlines()}
        if os.getuid() == 0:
            assert fields["Uid"] == ["65534"] * 4
            assert fields["Gid"] == ["65534"] * 4
            assert fields["Groups"] == []
    await engine.close()
    for pid in pids:
        assert pid is not None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


async def test_hard_limit_kills_and_respawns_the_worker() -> None:
    # Any real document takes Jedi far longer than a microsecond.
    engine = CompletionEngine(deadline_s=120.0, hard_limit_s=1e-6, preload=False)
    await engine.start()
    try:
        first_pids = set(engine.worker_pids.values())
        code = "\n".join(f"def f{i}(a, b):\n    return a + b\n" for i in range(300)) + "\nf1"
        completion = await complete_at_end(engine, code)
        # Killed before Jedi answered: the AST answer, at once (not at the deadline).
        assert {s.source for s in completion.suggestions} == {"ast"}
        assert "f10" in labels(completion)
        assert engine.respawns == 2  # both workers, each over its limit
        # The next request waits for the new worker and gets Jedi's answer.
        engine.hard_limit_s = 120.0
        after = await complete_at_end(engine, "import math\nmath.sq")
        assert labels(after) == ["sqrt"]
        assert not first_pids & set(engine.worker_pids.values())
        for pid in first_pids:
            assert pid is not None
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        await engine.close()


async def test_complete_before_start_is_an_error() -> None:
    engine = CompletionEngine()
    with pytest.raises(RuntimeError, match="not started"):
        await engine.complete("x", 1)


async def test_requests_while_starting_get_the_ast_answer() -> None:
    engine = CompletionEngine(preload=False)
    starting = asyncio.create_task(engine.start())
    await asyncio.sleep(0)  # let start() begin: one turn of the loop, no timing involved
    try:
        code = "total_count = 1\ntotal_"
        completion = await complete_at_end(engine, code)
        assert [(s.label, s.source) for s in completion.suggestions] == [("total_count", "ast")]
        await starting
        assert labels(await complete_at_end(engine, "import math\nmath.sq")) == ["sqrt"]
    finally:
        await starting
        await engine.close()


async def test_a_keystroke_extending_the_word_reuses_the_previous_answer(
    engine: CompletionEngine,
) -> None:
    base_code = "import math\nvalue = 2\nmath."
    base = await complete_at_end(engine, base_code)
    before = engine.stats["derived"]
    typed = await complete_at_end(engine, base_code + "Co")
    assert engine.stats["derived"] == before + 1
    assert typed.from_ == base.from_ == len(base_code)
    # Jedi's list for `math.`, filtered the way Jedi filters (a prefix, ignoring case).
    assert labels(typed) == [label for label in labels(base) if label.lower().startswith("co")]
    assert {"comb", "copysign", "cos", "cosh"} <= set(labels(typed))
    assert typed.symbols == base.symbols
    # Anything but word characters typed at the cursor needs Jedi again.
    dotted = await complete_at_end(engine, base_code + "pi.")
    assert engine.stats["derived"] == before + 1
    assert "is_integer" in labels(dotted)


async def test_a_fast_keystroke_waits_for_the_running_answer(engine: CompletionEngine) -> None:
    code = "import os\nos.path."
    before = engine.stats["derived"]
    first, second = await asyncio.gather(
        complete_at_end(engine, code), complete_at_end(engine, code + "jo")
    )
    assert engine.stats["derived"] == before + 1
    assert labels(second) == ["join"]
    assert "join" in labels(first)


async def test_logs_carry_timings_never_code(
    engine: CompletionEngine, impatient: CompletionEngine, caplog: pytest.LogCaptureFixture
) -> None:
    marker = "zq_private_marker_7731"
    code = f"{marker} = 'secret text'\n{marker}."
    with caplog.at_level(logging.DEBUG, logger="pairpad.completion"):
        await complete_at_end(engine, code)
        await complete_at_end(engine, code)  # the cached answer
        await complete_at_end(impatient, code + "x")  # the AST answer
    assert caplog.records
    for record in caplog.records:
        assert marker not in record.getMessage()
        assert "secret text" not in record.getMessage()


async def test_documents_over_the_jedi_size_limit_get_the_ast_answer() -> None:
    engine = CompletionEngine(deadline_s=120.0, preload=False, max_jedi_chars=20)
    await engine.start()
    try:
        code = "import math\nradius = 2\nmath.sq"  # 31 characters
        completion = await complete_at_end(engine, code)
        assert completion.suggestions == []  # after a dot: only Jedi knows attributes
        assert completion.symbols.imports == ["math"]
        typed = await complete_at_end(engine, "import math\nradius = 2\nrad")
        assert [(s.label, s.source) for s in typed.suggestions] == [("radius", "ast")]
        assert engine.stats["jedi"] == 0
    finally:
        await engine.close()


async def test_ast_answer_counts_utf16_units(impatient: CompletionEngine) -> None:
    code = f"# {EMOJI}\nlabel_{EMOJI} = 1\nlabel_text = '{EMOJI}'; lab"
    completion = await complete_at_end(impatient, code)
    assert completion.from_ == utf16_length(code) - 3
    assert [s.label for s in completion.suggestions][:1] == ["label_text"]
