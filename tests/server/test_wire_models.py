"""The wire forms the server builds from core values (server/models.py), as docs/protocol.md
"REST" describes them: `ExecutionResult` and the autocomplete answer."""

from __future__ import annotations

import json

from editor_core.completion import Completion, Suggestion, Symbols
from editor_core.execution import ExecutionResult
from server.models import dump_completion, dump_execution_result


def test_execution_result_has_the_protocol_keys() -> None:
    wire = dump_execution_result(ExecutionResult("ok", "w\n", "w\n", "", 0, 7, False))
    assert set(wire) == {
        "status", "output", "stdout", "stderr", "exitCode", "durationMs", "truncated",
        "reason", "limit",
    }  # fmt: skip
    assert wire["status"] == "ok"
    assert (wire["reason"], wire["limit"]) == (None, None)
    assert wire["exitCode"] == 0
    assert wire["output"] == "w\n"
    assert isinstance(wire["durationMs"], int)


def test_execution_result_says_the_reason_and_the_limit_in_its_unit() -> None:
    # docs/protocol.md "REST": bytes for memory and output, seconds for wall and CPU time.
    killed = ExecutionResult("killed", "", "", "", -9, 7, True, "output_limit", 65536)
    wire = dump_execution_result(killed)
    assert (wire["status"], wire["reason"], wire["limit"]) == ("killed", "output_limit", 65536)
    assert json.dumps(wire["limit"]) == "65536"  # an integer of bytes, not 65536.0
    timed_out = ExecutionResult("timeout", "", "", "", -9, 10_000, False, "wall_limit", 2.5)
    assert dump_execution_result(timed_out)["limit"] == 2.5
    failed = ExecutionResult("tests_failed", "", "", "", 1, 7, False, "tests_failed")
    assert dump_execution_result(failed)["status"] == "tests_failed"


def test_execution_result_without_a_process_has_a_null_exit_code() -> None:
    wire = dump_execution_result(ExecutionResult("stopped", "", "", "", None, 0, False))
    assert "exitCode" in wire
    assert wire["exitCode"] is None


def test_completion_wire_form() -> None:
    completion = Completion(
        len("import math\nx = 1\nmath."),
        [Suggestion("sqrt", "function", "def sqrt(x, /)", "jedi")],
        Symbols(globals=["x"], functions=[], classes=[], imports=["math"], params=[], locals=[]),
    )
    assert json.loads(json.dumps(dump_completion(completion))) == {
        "from": len("import math\nx = 1\nmath."),
        "suggestions": [
            {"label": "sqrt", "kind": "function", "detail": "def sqrt(x, /)", "source": "jedi"},
        ],
        "symbols": {
            "globals": ["x"],
            "functions": [],
            "classes": [],
            "imports": ["math"],
            "params": [],
            "locals": [],
        },
        "incomplete": False,
    }


def test_suggestion_without_detail_has_no_detail_key() -> None:
    # docs/protocol.md "REST": `detail` is absent, never null, when there is none.
    completion = Completion(0, [Suggestion("x", "variable", None, "ast")], Symbols.empty())
    assert dump_completion(completion)["suggestions"] == [
        {"label": "x", "kind": "variable", "source": "ast"},
    ]


def test_an_ast_answer_says_it_is_incomplete() -> None:
    completion = Completion(0, [], Symbols.empty(), incomplete=True)
    assert dump_completion(completion)["incomplete"] is True
