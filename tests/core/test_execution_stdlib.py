"""The standard library a program may use (docs/sandbox.md "What a program may do"): each
offered module works in a real sandboxed child, unittest and doctest report like Python and
end the run `tests_failed`, and output of a sleeping program streams as it is written."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest_asyncio

from editor_core.execution import ExecutionLimits, ExecutionResult, ExecutionService

LIMITS = ExecutionLimits(wall_time_s=6.0, cpu_time_s=6, output_bytes=16384)


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def service() -> AsyncIterator[ExecutionService]:
    svc = ExecutionService(LIMITS)
    await svc.start()
    yield svc
    await svc.close()


async def run_ok(service: ExecutionService, code: str) -> ExecutionResult:
    result = await service.run(code)
    assert (result.status, result.reason) == ("ok", None), result
    return result


UNITTEST_PROGRAM = """\
import unittest

def add(a, b):
    return a + b

class TestAdd(unittest.TestCase):
    def test_small(self):
        self.assertEqual(add(1, 2), 3)

    def test_wrong(self):
        self.assertEqual(add(2, 2), 5, "two and two")

    def test_negative(self):
        self.assertEqual(add(-1, -1), -2)

if __name__ == "__main__":
    unittest.main()
"""


async def test_unittest_main_prints_the_report_and_the_run_says_tests_failed(
    service: ExecutionService,
) -> None:
    result = await service.run(UNITTEST_PROGRAM)
    assert (result.status, result.reason, result.exit_code) == ("tests_failed", "tests_failed", 1)
    report = result.stderr
    assert report.startswith(".F.\n") or report.startswith("..F\n") or report.startswith("F..\n")
    assert "FAIL: test_wrong (__main__.TestAdd.test_wrong)" in report
    assert (
        'Traceback (most recent call last):\n  File "<room>", line 11, in test_wrong\n'
        '    self.assertEqual(add(2, 2), 5, "two and two")\n'
        "AssertionError: 4 != 5 : two and two\n"
    ) in report
    assert "\nRan 3 tests in " in report
    assert report.endswith("\nFAILED (failures=1)\n")
    assert "unittest" not in report.split("FAIL:")[1].split("Ran 3")[0].replace("TestAdd", "")


async def test_passing_tests_end_ok_and_exit_false_goes_on(service: ExecutionService) -> None:
    passing = UNITTEST_PROGRAM.replace("5, \"two and two\"", "4")
    result = await run_ok(service, passing)
    assert result.stderr.endswith("\nOK\n")
    assert "Ran 3 tests" in result.stderr

    goes_on = UNITTEST_PROGRAM.replace(
        "    unittest.main()\n",
        "    outcome = unittest.main(exit=False, verbosity=2)\n"
        "    print('after', len(outcome.result.failures))\n",
    )
    result = await service.run(goes_on)
    assert (result.status, result.reason, result.exit_code) == ("tests_failed", "tests_failed", 1)
    assert "test_wrong (__main__.TestAdd.test_wrong) ... FAIL" in result.stderr
    assert result.stdout == "after 1\n"


async def test_an_uncaught_error_outside_the_tests_is_still_an_exception(
    service: ExecutionService,
) -> None:
    code = UNITTEST_PROGRAM.replace(
        "    unittest.main()\n", "    unittest.main(exit=False)\n    raise KeyError('after')\n"
    )
    result = await service.run(code)
    assert (result.status, result.reason) == ("error", "exception")


async def test_doctest_testmod_reports_failed_examples(service: ExecutionService) -> None:
    code = (
        "def double(x):\n"
        '    """\n'
        "    >>> double(2)\n"
        "    4\n"
        "    >>> double(3)\n"
        "    7\n"
        '    """\n'
        "    return 2 * x\n"
        "import doctest\n"
        "print(doctest.testmod())\n"
    )
    result = await service.run(code)
    assert (result.status, result.reason) == ("tests_failed", "tests_failed")
    assert result.stdout.startswith(
        "*" * 70 + '\nFile "<room>", line 5, in __main__.double\nFailed example:\n'
        "    double(3)\nExpected:\n    7\nGot:\n    6\n"
    )
    assert result.stdout.endswith(
        "***Test Failed*** 1 failures.\nTestResults(failed=1, attempted=2)\n"
    )
    passing = await run_ok(service, code.replace("    7\n", "    6\n"))
    assert passing.stdout == "TestResults(failed=0, attempted=2)\n"


async def test_the_offered_modules_work(service: ExecutionService) -> None:
    code = """\
import time, copy, pprint, io, csv, hashlib, hmac, base64, binascii, uuid, contextlib, abc
import array, struct, keyword, graphlib, zlib, difflib, calendar, numbers, cmath, secrets
import unicodedata, operator, traceback
from dataclasses import dataclass, field
start = time.perf_counter(); time.sleep(0.05)
print(time.perf_counter() - start >= 0.05, time.monotonic() > 0, time.time() > 1e9)
@dataclass
class Team:
    names: list = field(default_factory=list)
team = Team(["ann"]); clone = copy.deepcopy(team); clone.names.append("bob")
print(team, clone, copy.copy(team).names is team.names)
pprint.pprint({"numbers": list(range(12)), "nested": {"a": [1, 2]}}, width=40)
buffer = io.StringIO(); csv.writer(buffer).writerow(["a", 1, "x,y"])
print(repr(buffer.getvalue()), list(csv.DictReader(io.StringIO("k,v\\n1,2\\n"))))
print(hashlib.sha256(b"abc").hexdigest()[:12], hashlib.md5(b"").hexdigest()[:6],
      hashlib.sha3_256(b"").hexdigest()[:6], hashlib.blake2b(b"").hexdigest()[:6])
print(hmac.new(b"k", b"m", "sha256").hexdigest()[:8], base64.b64encode(b"hi"),
      binascii.hexlify(b"hi"), uuid.uuid4().version, uuid.uuid5(uuid.NAMESPACE_DNS, "x"))
with contextlib.redirect_stdout(io.StringIO()) as captured:
    print("hidden")
print(repr(captured.getvalue()))
with contextlib.suppress(KeyError):
    {}["x"]
class Shape(abc.ABC):
    @abc.abstractmethod
    def area(self): ...
try:
    Shape()
except TypeError:
    print("abstract")
print(array.array("i", [1, 2]).tolist(), struct.unpack("<h", struct.pack("<h", -2)),
      keyword.iskeyword("class"), list(graphlib.TopologicalSorter({"b": {"a"}}).static_order()))
print(zlib.decompress(zlib.compress(b"aaa")), list(difflib.ndiff(["a"], ["b"])))
print(calendar.isleap(2024), isinstance(2, numbers.Integral), cmath.sqrt(-4),
      len(secrets.token_hex(8)), unicodedata.name("é"), operator.itemgetter(1)("ab"))
try:
    {}["missing"]
except KeyError:
    print(traceback.format_exc().splitlines()[-1])
"""
    result = await run_ok(service, code)
    assert result.stdout == (
        "True True True\n"
        "Team(names=['ann']) Team(names=['ann', 'bob']) True\n"
        "{'nested': {'a': [1, 2]},\n"
        " 'numbers': [0,\n"
        "             1,\n"
        "             2,\n"
        "             3,\n"
        "             4,\n"
        "             5,\n"
        "             6,\n"
        "             7,\n"
        "             8,\n"
        "             9,\n"
        "             10,\n"
        "             11]}\n"
        "'a,1,\"x,y\"\\r\\n' [{'k': '1', 'v': '2'}]\n"
        "ba7816bf8f01 d41d8c a7ffc6 786a02\n"
        f"b60090e3 b'aGk=' b'6869' 4 {uuid.uuid5(uuid.NAMESPACE_DNS, 'x')}\n"
        "'hidden\\n'\n"
        "abstract\n"
        "[1, 2] (-2,) True ['a', 'b']\n"
        "b'aaa' ['- a', '+ b']\n"
        "True True 2j 16 LATIN SMALL LETTER E WITH ACUTE b\n"
        "KeyError: 'missing'\n"
    )


async def test_copy_handles_what_programs_copy(service: ExecutionService) -> None:
    # The vetted copy (docs/sandbox.md "What it may not do") takes the standard library's
    # generated hooks: Enum members, NamedTuple, frozen slotted dataclasses, exceptions.
    code = """\
import copy, enum, dataclasses, typing, collections, fractions
class Color(enum.Enum):
    RED = 1
class P(typing.NamedTuple):
    x: int
    y: list
@dataclasses.dataclass(frozen=True, slots=True)
class Frozen:
    a: list
class Node:
    def __init__(self, v):
        self.v = v
        self.children = []
root = Node(1)
root.children.append(root)
class MyList(list):
    pass
data = [Color.RED, P(1, [2]), Frozen([1]), root, MyList([1, [2]]), KeyError("k"),
        fractions.Fraction(1, 3), collections.defaultdict(list, a=[1]), collections.deque([1], 2)]
out = copy.deepcopy(data)
print(out[0] is Color.RED, out[1], out[1].y is not data[1].y, out[2], out[3].children[0] is out[3])
print(out[4], type(out[4]).__name__, out[5].args, out[6], out[7]["a"], out[8].maxlen)
"""
    result = await run_ok(service, code)
    assert result.stdout == (
        "True P(x=1, y=[2]) True Frozen(a=[1]) True\n[1, [2]] MyList ('k',) 1/3 [1] 2\n"
    )


async def test_warnings_are_shown_once_at_the_programs_line(service: ExecutionService) -> None:
    code = (
        "import warnings\n"
        "def old():\n"
        "    warnings.warn('old() is deprecated', DeprecationWarning, stacklevel=2)\n"
        "for _ in range(3):\n"
        "    old()\n"
        "warnings.warn('plain')\n"
    )
    result = await run_ok(service, code)
    assert result.stderr == (
        "<room>:5: DeprecationWarning: old() is deprecated\n"
        "  old()\n"
        "<room>:6: UserWarning: plain\n"
        "  warnings.warn('plain')\n"
    )


async def test_sleep_counts_against_the_wall_clock() -> None:
    svc = ExecutionService(ExecutionLimits(wall_time_s=1.0, cpu_time_s=30))
    try:
        result = await svc.run("import time\nprint('zzz')\ntime.sleep(30)\n")
        assert (result.status, result.reason, result.limit) == ("timeout", "wall_limit", 1.0)
        assert result.output == "zzz\n"
    finally:
        await svc.close()


async def test_output_of_a_sleeping_program_streams_as_it_is_written(
    service: ExecutionService,
) -> None:
    """A line is handed on within a batch window (docs/sandbox.md "Output"), long before the
    next one is printed 0.4 s later: four batches, one per line, not one at the end."""
    batches: list[str] = []
    code = "import time\nfor i in range(4):\n    print(i)\n    time.sleep(0.4)\n"
    result = await service.run(code, on_output=lambda _stream, data: batches.append(data))
    assert result.output == "0\n1\n2\n3\n"
    assert batches == ["0\n", "1\n", "2\n", "3\n"]


async def test_what_a_run_changes_in_the_standard_library_is_gone_next_run(
    service: ExecutionService,
) -> None:
    # Process-wide settings of the offered modules live in the run's own child.
    patch = (
        "import csv, warnings, decimal, calendar\n"
        "csv.field_size_limit(1)\n"
        "warnings.simplefilter('error')\n"
        "decimal.setcontext(decimal.Context(prec=2))\n"
        "calendar.setfirstweekday(6)\n"
        "print('patched')\n"
    )
    assert (await run_ok(service, patch)).stdout == "patched\n"
    check = (
        "import csv, warnings, decimal, calendar\n"
        "warnings.warn('still a warning')\n"
        "print(csv.field_size_limit(), decimal.getcontext().prec, calendar.firstweekday())\n"
    )
    result = await run_ok(service, check)
    assert result.stdout == "131072 28 0\n"
    assert "UserWarning: still a warning" in result.stderr


TRACEBACK_LIMIT_PROGRAM = """\
import traceback

def outer():
    middle()

def middle():
    inner()

def inner():
    raise ValueError("deep")

def frames(text):
    lines = [line.strip() for line in text.splitlines()]
    return [line.split()[-1] for line in lines if line.startswith("File")]

try:
    outer()
except ValueError as error:
    print(frames(traceback.format_exc()))
    print(frames(traceback.format_exc(limit=2)))
    print(frames("".join(traceback.format_exception(error, limit=-1))))
    print(frames(traceback.format_exc(limit=0)), traceback.format_exc(limit=0).splitlines()[-1])
    try:
        traceback.format_exc(limit="2")
    except TypeError as refused:
        print("refused:", refused)
"""


async def test_traceback_limit_keeps_the_first_or_the_last_frames_as_python_does(
        service: ExecutionService) -> None:
    result = await run_ok(service, TRACEBACK_LIMIT_PROGRAM)
    assert result.stdout.splitlines() == [
        "['<module>', 'outer', 'middle', 'inner']",
        "['<module>', 'outer']",
        "['inner']",
        "[] ValueError: deep",
        "refused: limit must be an int or None, not str",
    ]
