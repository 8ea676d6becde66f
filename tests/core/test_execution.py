"""ExecutionService: benign programs give exact output; the service's queue, limits, stop,
streaming and restart behave as docs/protocol.md says (`ExecutionResult`, `run`, `stop`)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from typing import cast

import pytest
import pytest_asyncio

from editor_core.errors import Busy, TooLarge
from editor_core.execution import (
    ExecutionLimits,
    ExecutionResult,
    ExecutionService,
    forkserver_client,
    framing,
)
from editor_core.execution import service as service_module
from editor_core.execution.output import OutputReader
from editor_core.execution.service import HIGH_SANDBOX_UID, default_sandbox_uid
from tests.core.sandbox_corpus import children_of, uids_of, wait_for_exit, wait_until

LIMITS = ExecutionLimits(wall_time_s=2.0, cpu_time_s=2, output_bytes=4096, max_code_bytes=4000)
DEADLINE_S = 20.0


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def service() -> AsyncIterator[ExecutionService]:
    svc = ExecutionService(LIMITS, max_concurrent=1, max_queue=1)
    await svc.start()
    yield svc
    await svc.close()


async def run_ok(service: ExecutionService, code: str, stdin: str = "") -> ExecutionResult:
    result = await service.run(code, stdin)
    assert result.status == "ok", result
    return result


# -- benign programs ---------------------------------------------------------------------------


async def test_print_in_functions_and_methods_streams_in_order(service: ExecutionService) -> None:
    code = (
        "def greet(name):\n"
        "    print('hello', name)\n"
        "    return len(name)\n"
        "class Counter:\n"
        "    def __init__(self):\n"
        "        self.count = 0\n"
        "    def bump(self):\n"
        "        self.count += 1\n"
        "        print('count', self.count)\n"
        "print('start')\n"
        "n = greet('ada')\n"
        "c = Counter()\n"
        "c.bump(); c.bump()\n"
        "print([x * n for x in range(3)])\n"
    )
    result = await run_ok(service, code)
    assert result.stdout == "start\nhello ada\ncount 1\ncount 2\n[0, 3, 6]\n"
    assert result.output == result.stdout
    assert result.stderr == ""
    assert result.exit_code == 0
    assert result.truncated is False


async def test_classes_inheritance_dunders_and_properties(service: ExecutionService) -> None:
    code = (
        "class Shape:\n"
        "    def __init__(self, name):\n"
        "        self.name = name\n"
        "    def __repr__(self):\n"
        "        return f'{self.__class__.__name__}({self.name!r})'\n"
        "class Square(Shape):\n"
        "    def __init__(self, side):\n"
        "        super().__init__('square')\n"
        "        self.side = side\n"
        "    @property\n"
        "    def area(self):\n"
        "        return self.side ** 2\n"
        "    def __lt__(self, other):\n"
        "        return self.area < other.area\n"
        "    def __eq__(self, other):\n"
        "        return self.area == other.area\n"
        "shapes = sorted([Square(3), Square(1), Square(2)])\n"
        "print(shapes, [s.area for s in shapes])\n"
        "print(isinstance(shapes[0], Shape), type(shapes[0]).__name__)\n"
    )
    result = await run_ok(service, code)
    assert result.stdout == (
        "[Square('square'), Square('square'), Square('square')] [1, 4, 9]\nTrue Square\n"
    )


async def test_allowed_modules(service: ExecutionService) -> None:
    code = (
        "import math, json, itertools, heapq, bisect, string, textwrap, statistics\n"
        "import collections.abc\n"
        "from collections import Counter, defaultdict, deque, namedtuple\n"
        "from dataclasses import dataclass, field, asdict\n"
        "from enum import Enum, auto\n"
        "from typing import List, Optional, NamedTuple\n"
        "from functools import lru_cache, reduce, wraps\n"
        "from fractions import Fraction\n"
        "from decimal import Decimal\n"
        "import datetime, re, random\n"
        "@dataclass\n"
        "class Point:\n"
        "    x: int\n"
        "    y: int = 0\n"
        "    tags: List[str] = field(default_factory=list)\n"
        "class Color(Enum):\n"
        "    RED = auto()\n"
        "    GREEN = auto()\n"
        "class Pair(NamedTuple):\n"
        "    a: int\n"
        "    b: Optional[int] = None\n"
        "@lru_cache(maxsize=None)\n"
        "def fib(n):\n"
        "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
        "def logged(f):\n"
        "    @wraps(f)\n"
        "    def inner(*args):\n"
        "        return f(*args)\n"
        "    return inner\n"
        "@logged\n"
        "def double(x):\n"
        "    return 2 * x\n"
        "print(math.sqrt(16), math.pi > 3)\n"
        "print(json.dumps(asdict(Point(1, 2))))\n"
        "print(Color.GREEN.name, Color.GREEN.value, Pair(1))\n"
        "print(fib(30), double.__name__, double(4))\n"
        "print(Counter('abca').most_common(1), list(itertools.accumulate([1, 2, 3])))\n"
        "h = [5, 1, 3]; heapq.heapify(h); print(heapq.heappop(h), bisect.bisect([1, 3, 5], 4))\n"
        "print(Fraction(1, 3) + Fraction(1, 6), Decimal('0.1') + Decimal('0.2'))\n"
        "print(datetime.date(2024, 2, 28) + datetime.timedelta(days=1))\n"
        "print(re.findall(r'\\d+', 'a1b22'), statistics.mean([1, 2, 3, 4]))\n"
        "print(string.ascii_lowercase[:3], textwrap.shorten('hello big world', 12))\n"
        "print(isinstance([], collections.abc.Sequence), reduce(lambda a, b: a * b, [1, 2, 3]))\n"
        "random.seed(1); a = random.random(); random.seed(1); print(a == random.random())\n"
        "d = defaultdict(int); d['k'] += 2; q = deque([1]); q.appendleft(0)\n"
        "print(dict(d), list(q), namedtuple('P', 'x y')(1, 2))\n"
        "print('{0} and {name}'.format(1, name='two'), '{:>4}|'.format('x'))\n"
    )
    result = await run_ok(service, code)
    assert result.stdout.splitlines() == [
        "4.0 True",
        '{"x": 1, "y": 2, "tags": []}',
        "GREEN 2 Pair(a=1, b=None)",
        "832040 double 8",
        "[('a', 2)] [1, 3, 6]",
        "1 2",
        "1/2 0.3",
        "2024-02-29",
        "['1', '22'] 2.5",
        "abc hello [...]",
        "True 6",
        "True",
        "{'k': 2} [0, 1] P(x=1, y=2)",
        "1 and two    x|",
    ]


EVERYDAY_PROGRAM = """from typing import List
counter = 0
def bump():
    global counter
    counter += 1
def make_acc():
    total = 0
    def add(x):
        nonlocal total
        total += x
        return total
    return add
class InsufficientFunds(Exception):
    def __init__(self, needed):
        super().__init__(f"need {needed} more")
        self.needed = needed
class Account:
    rate = 0.5
    def __init__(self, owner: str, balance: float = 0) -> None:
        self.owner = owner
        self.balance = balance
        self.history: List[float] = []
    def withdraw(self, amount):
        if amount > self.balance:
            raise InsufficientFunds(amount - self.balance)
        self.balance -= amount
        self.history.append(-amount)
    def __enter__(self):
        print("enter")
        return self
    def __exit__(self, *exc):
        print("exit", exc[0].__name__ if exc[0] else None)
        return True
    def __len__(self):
        return len(self.history)
def gen(n):
    yield from range(n)
    yield n
def main(*args, sep=", ", **kwargs):
    bump(); bump()
    acc = make_acc(); acc(2); print("acc", acc(3), "counter", counter)
    a = Account("ada", 10)
    a.withdraw(3)
    try:
        a.withdraw(100)
    except InsufficientFunds as e:
        print("error:", e, e.needed, e.args)
    with a as same:
        same.withdraw(1000)
    print(len(a), a.balance, Account.rate)
    pairs = [(1, "b"), (0, "a")]
    for i, (n, s) in enumerate(sorted(pairs, key=lambda p: p[0])):
        print(i, n, s, end="; ")
    print()
    print(*[x ** 2 for x in gen(3)], sep=sep)
    d = {"k": 1, "j": 2}
    del d["k"]
    d |= {"z": 3}
    print(d, {k: v for k, v in d.items() if v > 2}, args, kwargs)
    if (n := len(d)) == 2:
        print("walrus", n)
    s = "Hello, World"
    print(s[::-1], s.lower().split(", "), f"{3.14159:.2f}|{42:>5}|{'x'!r}")
    print(max(["aa", "b"], key=len), {1, 2} & {2, 3}, isinstance(1.0, (int, float)))
    print(list(map(str, [1, 2])), "-".join("abc"), divmod(7, 2), round(2.675, 2))
    matrix = [[1, 2], [3, 4]]
    matrix[0][1] = 9
    print(matrix, [row[1] for row in matrix], sum(sum(r) for r in matrix))
    assert a.balance == 7, "balance"
if __name__ == "__main__":
    main(1, 2, flag=True)
"""


async def test_everyday_idioms(service: ExecutionService) -> None:
    """global/nonlocal, custom exceptions with super(), context managers, generators, *args/
    **kwargs, unpacking in loops, item and augmented assignment, walrus, f-string specs,
    `if __name__ == "__main__"`."""
    result = await run_ok(service, EVERYDAY_PROGRAM)
    assert result.stdout == (
        "acc 5 counter 2\n"
        "error: need 93 more 93 ('need 93 more',)\n"
        "enter\n"
        "exit InsufficientFunds\n"
        "1 7 0.5\n"
        "0 0 a; 1 1 b; \n"
        "0, 1, 4, 9\n"
        "{'j': 2, 'z': 3} {'z': 3} (1, 2) {'flag': True}\n"
        "walrus 2\n"
        "dlroW ,olleH ['hello', 'world'] 3.14|   42|'x'\n"
        "aa {2} True\n"
        "['1', '2'] a-b-c (3, 1) 2.67\n"
        "[[1, 9], [3, 4]] [9, 4] 17\n"
    )


async def test_input_reads_lines_of_stdin_then_eof(service: ExecutionService) -> None:
    code = (
        "name = input('name? ')\n"
        "n = int(input())\n"
        "print(f'hi {name}', n * 2)\n"
        "try:\n"
        "    input()\n"
        "except EOFError as e:\n"
        "    print('eof:', e)\n"
    )
    result = await run_ok(service, code, stdin="ada\r\n21\n")
    # The prompt and each line read are echoed, as a terminal shows them.
    assert result.stdout == "name? ada\n21\nhi ada 42\neof: EOF when reading a line\n"


async def test_input_echoes_a_last_line_without_newline(service: ExecutionService) -> None:
    result = await run_ok(service, "x = input('n: ')\nprint(repr(x))\n", stdin="7")
    assert result.stdout == "n: 7\n'7'\n"


async def test_uncaught_exception_traceback_has_user_frames_only(
    service: ExecutionService,
) -> None:
    code = (
        "import json\n"
        "def parse(text):\n"
        "    return json.loads(text)\n"
        "\n"
        "def main():\n"
        "    print('before')\n"
        "    parse('{broken')\n"
        "main()\n"
    )
    result = await service.run(code)
    assert (result.status, result.reason, result.limit) == ("error", "exception", None)
    assert result.exit_code == 1
    assert result.stdout == "before\n"
    assert result.stderr == (
        "Traceback (most recent call last):\n"
        '  File "<room>", line 8, in <module>\n'
        "    main()\n"
        '  File "<room>", line 7, in main\n'
        "    parse('{broken')\n"
        '  File "<room>", line 3, in parse\n'
        "    return json.loads(text)\n"
        "           ^^^^^^^^^^^^^^^^\n"
        "json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)\n"
    )
    assert result.output == result.stdout + result.stderr


async def test_chained_exceptions_keep_both_user_tracebacks(service: ExecutionService) -> None:
    code = (
        "d = {}\n"
        "try:\n"
        "    d['missing']\n"
        "except KeyError as e:\n"
        "    raise ValueError('bad key') from e\n"
    )
    result = await service.run(code)
    assert result.status == "error"
    assert "line 3, in <module>" in result.stderr
    assert "KeyError: 'missing'" in result.stderr
    assert "The above exception was the direct cause" in result.stderr
    assert result.stderr.endswith("ValueError: bad key\n")
    assert ".py" not in result.stderr
    assert "editor_core" not in result.stderr


async def test_syntax_errors_and_policy_refusals_read_like_python(
    service: ExecutionService,
) -> None:
    broken = await service.run("x = 1\nprint(x +)\n")
    assert broken.status == "error"
    assert broken.stderr.startswith('  File "<room>", line 2\n    print(x +)\n')
    assert broken.stderr.endswith("SyntaxError: invalid syntax\n")

    refused = await service.run("x = 1\ny = x.__dict__\n")
    assert (refused.status, refused.reason) == ("error", "exception")
    assert refused.stderr == (
        '  File "<room>", line 2\n'
        "    y = x.__dict__\n"
        'SyntaxError: "__dict__" is an invalid attribute name because it starts with "_".\n'
    )


async def test_stdout_and_stderr_interleave_in_order_written(service: ExecutionService) -> None:
    code = (
        "import sys\n"
        "print('out 1')\n"
        "print('err 1', file=sys.stderr)\n"
        "sys.stdout.write('out 2\\n')\n"
        "sys.stderr.write('err 2\\n')\n"
        "print('out 3')\n"
    )
    chunks: list[tuple[str, str]] = []
    result = await service.run(code, on_output=lambda s, d: chunks.append((s, d)))
    assert result.status == "ok"
    assert result.output == "out 1\nerr 1\nout 2\nerr 2\nout 3\n"
    assert result.stdout == "out 1\nout 2\nout 3\n"
    assert result.stderr == "err 1\nerr 2\n"
    # Streamed in batches, but in order and adding up to the result.
    assert "".join(d for _, d in chunks) == result.output
    assert "".join(d for s, d in chunks if s == "stderr") == result.stderr


async def test_sys_exit_sets_exit_code(service: ExecutionService) -> None:
    assert (await service.run("import sys\nsys.exit(0)")).status == "ok"
    failed = await service.run("import sys\nprint('bye')\nsys.exit(3)")
    assert (failed.status, failed.exit_code, failed.output) == ("error", 3, "bye\n")
    assert (failed.reason, failed.limit) == ("exit", None)
    message = await service.run("exit('fatal')")
    assert (message.status, message.exit_code, message.stderr) == ("error", 1, "fatal\n")
    assert message.reason == "exit"


async def test_result_fields(service: ExecutionService) -> None:
    # The wire keys built from these fields are checked in tests/server/test_wire_models.py.
    result = await service.run("print('w')")
    assert result.status == "ok"
    assert (result.reason, result.limit) == (None, None)
    assert result.exit_code == 0
    assert result.output == "w\n"
    assert isinstance(result.duration_ms, int)


# -- limits ------------------------------------------------------------------------------------


async def test_endless_loop_times_out(service: ExecutionService) -> None:
    result = await service.run("print('spinning')\nwhile True:\n    pass\n")
    # The wall clock, or RLIMIT_CPU on a busy box.
    assert (result.status, result.reason, result.limit) in (
        ("timeout", "wall_limit", LIMITS.wall_time_s),
        ("killed", "cpu_limit", LIMITS.cpu_time_s),
    )
    assert result.stdout == "spinning\n"
    assert result.exit_code is not None
    assert result.exit_code < 0


async def test_output_is_capped_while_streaming(service: ExecutionService) -> None:
    streamed: list[str] = []
    result = await service.run(
        "while True:\n    print('x' * 100)\n", on_output=lambda _s, d: streamed.append(d)
    )
    assert (result.status, result.reason, result.limit) == (
        "killed", "output_limit", LIMITS.output_bytes,
    )  # fmt: skip
    assert result.truncated is True
    assert len(result.output.encode()) == LIMITS.output_bytes
    assert "".join(streamed) == result.output


async def test_code_or_stdin_over_the_size_limit_is_refused(service: ExecutionService) -> None:
    with pytest.raises(TooLarge):
        await service.run("#" * (LIMITS.max_code_bytes + 1))
    with pytest.raises(TooLarge):
        await service.run("pass", "x" * (LIMITS.max_stdin_bytes + 1))
    # Bytes, not characters: 1500 three-byte characters are 4500 bytes.
    with pytest.raises(TooLarge):
        await service.run("#" + "€" * 1500)


async def test_memory_bomb_is_killed(service: ExecutionService) -> None:
    result = await service.run("x = 'a' * (1024 ** 3)\n")
    assert (result.status, result.reason, result.limit) == (
        "killed", "memory_limit", LIMITS.memory_bytes,
    )  # fmt: skip
    assert "MemoryError" in result.stderr


async def test_the_cpu_limit_is_its_own_reason() -> None:
    # A wall clock far away: only RLIMIT_CPU can end this.
    svc = ExecutionService(ExecutionLimits(wall_time_s=60.0, cpu_time_s=1))
    try:
        result = await svc.run("while True:\n    pass\n")
        assert (result.status, result.reason, result.limit) == ("killed", "cpu_limit", 1)
    finally:
        await svc.close()


# -- queue, stop, busy -------------------------------------------------------------------------


async def start_spinner(service: ExecutionService, run_id: str) -> asyncio.Task[ExecutionResult]:
    """A run that prints 'ready' then spins; returns once it is running."""
    ready = asyncio.Event()
    task = asyncio.create_task(
        service.run(
            "print('ready')\nwhile True:\n    pass\n",
            on_output=lambda _s, _d: ready.set(),
            run_id=run_id,
        )
    )
    await asyncio.wait_for(ready.wait(), DEADLINE_S)
    return task


async def test_stop_running_and_queued_runs(service: ExecutionService) -> None:
    running = await start_spinner(service, "spin-1")
    queued = asyncio.create_task(service.run("print('never')", run_id="wait-1"))
    await wait_until(lambda: service.queued == 1)
    assert service.running == 1

    with pytest.raises(Busy) as busy:
        await service.run("print('no room')")
    assert busy.value.retry_after_ms >= 100
    with pytest.raises(ValueError, match="already"):
        await service.run("print(1)", run_id="spin-1")

    assert service.stop("wait-1") is True
    stopped_in_queue = await asyncio.wait_for(queued, DEADLINE_S)
    assert (stopped_in_queue.status, stopped_in_queue.exit_code) == ("stopped", None)
    assert stopped_in_queue.reason == "stopped"

    assert service.stop("spin-1") is True
    stopped = await asyncio.wait_for(running, DEADLINE_S)
    assert (stopped.status, stopped.reason, stopped.limit) == ("stopped", "stopped", None)
    assert stopped.output == "ready\n"
    assert service.stop("spin-1") is False
    assert (service.running, service.queued) == (0, 0)
    assert (await service.run("print('after')")).output == "after\n"


async def test_stop_right_after_submit_never_leaves_a_child(service: ExecutionService) -> None:
    # The stop may reach the fork server before the child has even made its own session.
    for attempt in range(5):
        task = asyncio.create_task(
            service.run("while True:\n    pass\n", run_id=f"early-{attempt}")
        )
        await wait_until(lambda: service.running == 1)
        assert service.stop(f"early-{attempt}")
        result = await asyncio.wait_for(task, DEADLINE_S)
        # SIGKILL from the stop, not SIGXCPU from RLIMIT_CPU after a lost kill.
        assert (result.status, result.exit_code) == ("stopped", -signal.SIGKILL)
    server_pid = service.fork_server_pid
    assert server_pid is not None
    assert children_of(server_pid) == []


async def test_cancelled_caller_kills_its_child(service: ExecutionService) -> None:
    task = await start_spinner(service, "cancel-me")
    server_pid = service.fork_server_pid
    assert server_pid is not None
    assert children_of(server_pid)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The kill is sent; the next run waits for its slot and finds no leftover child.
    assert (await service.run("print('next')")).output == "next\n"
    assert children_of(server_pid) == []


# -- the machinery -----------------------------------------------------------------------------


async def test_fork_server_death_is_a_clean_killed_result_then_respawn() -> None:
    svc = ExecutionService(LIMITS)
    try:
        task = await start_spinner(svc, "orphan")
        first_server = svc.fork_server_pid
        assert first_server is not None
        os.kill(first_server, signal.SIGKILL)
        result = await asyncio.wait_for(task, DEADLINE_S)
        assert (result.status, result.reason) == ("killed", "sandbox_failure")
        again = await svc.run("print('respawned')")
        assert again.output == "respawned\n"
        assert svc.fork_server_pid not in (None, first_server)
    finally:
        await svc.close()


async def test_hung_fork_server_is_replaced_and_takes_its_children(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(service_module, "_KILL_GRACE_S", 0.5)
    svc = ExecutionService(LIMITS)
    try:
        task = await start_spinner(svc, "hung")
        server_pid = svc.fork_server_pid
        assert server_pid is not None
        (child_pid,) = children_of(server_pid)
        os.kill(server_pid, signal.SIGSTOP)  # alive, but answers nothing
        assert svc.stop("hung")
        result = await asyncio.wait_for(task, DEADLINE_S)
        assert result.status == "stopped"
        await wait_for_exit(child_pid, DEADLINE_S)
        await wait_for_exit(server_pid, DEADLINE_S)
        assert (await svc.run("print('replaced')")).output == "replaced\n"
    finally:
        await svc.close()


async def test_a_fork_server_that_cannot_start_gives_killed_results(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(forkserver_client, "_BOOT", "raise SystemExit(3)")
    svc = ExecutionService(LIMITS)
    try:
        await svc.start()  # logged, not raised: the server starts without runs
        assert "event=forkserver.start_failed" in caplog.text
        result = await svc.run("print(1)")
        assert (result.status, result.exit_code, result.output) == ("killed", None, "")
        assert result.reason == "sandbox_failure"
    finally:
        await svc.close()


async def test_a_child_that_cannot_raise_its_walls_never_runs_the_program(
    caplog: pytest.LogCaptureFixture,
) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root drops to a sandbox uid")
    svc = ExecutionService(LIMITS, sandbox_uid=-2)  # setresuid refuses it
    try:
        result = await svc.run("print('must not run')")
        assert (result.status, result.exit_code, result.output) == ("killed", 70, "")
        assert result.reason == "sandbox_failure"
        assert "event=sandbox.walls_failed run=" in caplog.text
    finally:
        await svc.close()


async def test_concurrent_runs_get_distinct_sandbox_uids() -> None:
    if os.geteuid() != 0:
        pytest.skip("only root drops to a sandbox uid")
    svc = ExecutionService(LIMITS, max_concurrent=2, max_queue=0)
    try:
        first = await start_spinner(svc, "pair-1")
        second = await start_spinner(svc, "pair-2")
        assert svc.running == 2
        server_pid = svc.fork_server_pid
        assert server_pid is not None
        uids = sorted(uids_of(child)[0] for child in children_of(server_pid))
        base = default_sandbox_uid()
        assert uids == [base - 1, base]
        with pytest.raises(Busy):
            await svc.run("print(1)")
        for run_id in ("pair-1", "pair-2"):
            svc.stop(run_id)
        results = await asyncio.wait_for(asyncio.gather(first, second), DEADLINE_S)
        assert [r.status for r in results] == ["stopped", "stopped"]
    finally:
        await svc.close()


async def test_close_ends_runs_and_leaves_no_process() -> None:
    svc = ExecutionService(LIMITS)
    task = await start_spinner(svc, "closing")
    server_pid = svc.fork_server_pid
    assert server_pid is not None
    await svc.close()
    result = await asyncio.wait_for(task, DEADLINE_S)
    assert result.status == "killed"
    assert children_of(server_pid) == []
    with pytest.raises(ProcessLookupError):
        os.kill(server_pid, 0)
    # A late run during shutdown is a clean "killed" result and starts nothing.
    late = await svc.run("print('late')")
    assert (late.status, late.exit_code, svc.fork_server_pid) == ("killed", None, None)


async def test_logs_carry_ids_and_statuses_never_code_or_output(
    service: ExecutionService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="pairpad.execution")
    secret = "s3cr3t-marker"
    await service.run(f"print('{secret}')\nraise ValueError('{secret}')", run_id="logged-run")
    messages = [record.getMessage() for record in caplog.records]
    assert any("logged-run" in m and "status=error" in m for m in messages)
    assert not any(secret in m for m in messages)


async def test_features_that_import_lazily_work_in_the_child(service: ExecutionService) -> None:
    # The sandbox uid cannot read the interpreter's directories: whatever the interpreter
    # imports on first use must already be loaded in the fork server.
    code = (
        "import datetime\n"
        "café = 'é'\n"
        "print(café.encode('latin-1'), café.encode('cp1252'), len('x'.encode('utf-16')))\n"
        "day = datetime.datetime.strptime('2024-03-01', '%Y-%m-%d')\n"
        "print(day.date(), day.strftime('%A'), datetime.datetime.now().year > 2000)\n"
        "print('\\u00e9'.encode('unicode_escape'), 'ß'.upper(), 'x'.encode('utf-8-sig'))\n"
    )
    result = await run_ok(service, code)
    assert result.stdout == (
        "b'\\xe9' b'\\xe9' 4\n2024-03-01 Friday True\nb'\\\\xe9' SS b'\\xef\\xbb\\xbfx'\n"
    )


# -- the parent's side of the pipe: a child is untrusted ---------------------------------------


async def read_pipe(data: bytes, cap: int) -> OutputReader:
    """Feed `data` through a real pipe into an OutputReader; return it at end of file."""
    read_fd, write_fd = os.pipe()
    reader = OutputReader(read_fd, cap, None)
    os.set_blocking(write_fd, False)
    view = memoryview(data)
    try:
        while view:
            try:
                view = view[os.write(write_fd, view) :]
            except BlockingIOError:
                await asyncio.sleep(0)  # let the reader drain the pipe
    finally:
        os.close(write_fd)
    await asyncio.wait_for(reader.eof, DEADLINE_S)
    reader.close()
    return reader


async def test_reader_refuses_a_malformed_frame() -> None:
    reader = await read_pipe(framing.encode(b"o", b"fine") + b"Z\x00\x00\x00\x01x", cap=100)
    assert reader.failed.done()
    assert reader.text() == "fine"


async def test_reader_refuses_a_flood_of_frames_that_are_not_output() -> None:
    verdicts = framing.encode_verdict(None) * 10_000
    reader = await read_pipe(verdicts, cap=100)
    assert reader.failed.done()
    assert reader.verdict == "ok"


async def test_reader_cuts_at_the_cap_without_splitting_a_character() -> None:
    reader = await read_pipe(framing.encode(b"o", "é".encode() * 10), cap=5)
    assert reader.truncated
    assert reader.text() == "éé"  # 4 bytes; the third character would cross the cap


class _Seen:
    """What `_reason` reads of an OutputReader."""

    def __init__(self, verdict: str | None = None, truncated: bool = False) -> None:
        self.verdict = verdict
        self.truncated = truncated


@pytest.mark.parametrize(
    ("ending", "exit_code", "seen", "duration_ms", "expected"),
    [
        (None, 0, _Seen("ok"), 5, (None, None)),
        (None, 1, _Seen("exception"), 5, ("exception", None)),
        (None, 1, _Seen("tests_failed"), 5, ("tests_failed", None)),
        (None, 1, _Seen("memory_limit"), 5, ("memory_limit", LIMITS.memory_bytes)),
        ("timeout", -9, _Seen(), 2000, ("wall_limit", LIMITS.wall_time_s)),
        ("stopped", -9, _Seen(truncated=True), 5, ("stopped", None)),
        ("output", -9, _Seen(truncated=True), 5, ("output_limit", LIMITS.output_bytes)),
        (None, 0, _Seen("ok", truncated=True), 5, ("output_limit", LIMITS.output_bytes)),
        ("output", -9, _Seen(), 5, ("sandbox_failure", None)),  # frames that are not output
        ("closed", -9, _Seen(), 5, ("sandbox_failure", None)),
        (None, None, _Seen(), 5, ("sandbox_failure", None)),  # the fork server was lost
        (None, -signal.SIGXCPU, _Seen(), 1500, ("cpu_limit", LIMITS.cpu_time_s)),
        (None, -signal.SIGKILL, _Seen(), 2500, ("cpu_limit", LIMITS.cpu_time_s)),
        (None, -signal.SIGKILL, _Seen(), 300, ("memory_limit", LIMITS.memory_bytes)),  # OOM
        (None, framing.EXIT_MACHINERY, _Seen(), 5, ("sandbox_failure", None)),
        (None, -signal.SIGSEGV, _Seen(), 5, ("sandbox_failure", None)),
    ],
)
def test_reason_and_limit_of_each_ending(
    ending: str | None,
    exit_code: int | None,
    seen: _Seen,
    duration_ms: int,
    expected: tuple[str | None, float | None],
) -> None:
    reader = cast(OutputReader, seen)
    assert service_module._reason(ending, exit_code, reader, duration_ms, LIMITS) == expected


def test_sandbox_uid_is_high_when_mapped_else_nobody() -> None:
    assert default_sandbox_uid("0 0 4294967295\n") == HIGH_SANDBOX_UID
    assert default_sandbox_uid("0 100000 65536\n") == 65534
    assert default_sandbox_uid("") == 65534


async def test_children_run_as_the_slot_uid(service: ExecutionService) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root drops to a sandbox uid")
    task = await start_spinner(service, "whoami")
    server_pid = service.fork_server_pid
    assert server_pid is not None
    (child,) = children_of(server_pid)
    assert uids_of(child) == [default_sandbox_uid()] * 4
    service.stop("whoami")
    assert (await asyncio.wait_for(task, DEADLINE_S)).status == "stopped"


@pytest.mark.parametrize(
    "message",
    [
        {"ev": "exit", "id": "1", "status": 0},
        {"ev": "exit", "id": 1, "status": None},
        {"ev": "started", "id": 1, "pid": True},
        {"ev": "exit", "status": 0},
    ],
)
async def test_a_malformed_fork_server_message_is_a_protocol_error(
    message: dict[str, object],
) -> None:
    # The reader turns ValueError/KeyError/TypeError into "protocol error"; the checks are
    # explicit so they hold under -O and raise one of those, not AssertionError.
    client = forkserver_client.ForkServerClient()
    client._children[1] = forkserver_client.ChildHandle(key=1)
    with pytest.raises((KeyError, TypeError)):
        client._on_message(message)
