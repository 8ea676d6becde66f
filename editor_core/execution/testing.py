"""`unittest` and `doctest` as a program uses them: `unittest.main()` / `doctest.testmod()`
at the bottom of the file run the program's own tests and print the usual report, and a run
whose tests failed ends with status `tests_failed` (docs/sandbox.md "How a run ends").

The real entry points reach outside the program: `unittest.main()` reads `sys.argv` and
`sys.modules["__main__"]` and loads tests by dotted names (a plain `getattr` walk, dunders
included); `TestLoader.discover` lists and imports files; doctest `exec`s the examples of a
docstring with the real `compile` and any globals it is handed. Here the program's tests are
found in its own globals, names are never resolved, and doctest examples are compiled by
RestrictedPython (`harden_testing`) and run in a copy of the program's guarded globals.
"""

from __future__ import annotations

import doctest as _doctest
import inspect
import types
import unittest as _unittest
from collections.abc import Callable
from typing import Any

from RestrictedPython.compile import compile_restricted_single

from editor_core.execution.transformer import PolicyTransformer
from editor_core.execution.user_traceback import format_exception

FILENAME = "<room>"


class TestFacts:
    """What one run's test runs reported; read by the child when the program ends."""

    def __init__(self) -> None:
        self.failed = False


# -- unittest ----------------------------------------------------------------------------------


class TextTestResult(_unittest.TextTestResult):
    """Failure reports show the program's frames only, like its uncaught tracebacks."""

    def _exc_info_to_string(self, err: Any, test: Any) -> str:
        error = err[1]
        if not isinstance(error, BaseException):
            return f"{err[0]!r}\n"
        return format_exception(error, FILENAME)


class TestLoader(_unittest.TestLoader):
    """Loads tests from classes and from the program; never by name, never from files."""

    def loadTestsFromName(self, name: Any, module: Any = None) -> Any:
        raise TypeError("loading tests by name is not available here; pass the classes")

    def loadTestsFromNames(self, names: Any, module: Any = None) -> Any:
        raise TypeError("loading tests by name is not available here; pass the classes")

    def discover(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("test discovery reads files; it is not available here")


def _runner_class(facts: TestFacts) -> type[_unittest.TextTestRunner]:
    class TextTestRunner(_unittest.TextTestRunner):
        resultclass = TextTestResult  # type: ignore[assignment]

        def __init__(
            self,
            stream: Any = None,
            descriptions: bool = True,
            verbosity: int = 1,
            failfast: bool = False,
            buffer: bool = False,
            resultclass: Any = None,
            warnings: Any = None,
            *,
            tb_locals: bool = False,
        ) -> None:
            if resultclass is not None and not (
                isinstance(resultclass, type) and issubclass(resultclass, TextTestResult)
            ):
                raise TypeError("resultclass must be a subclass of unittest.TextTestResult")
            if tb_locals:
                raise TypeError("tb_locals (the locals of every frame) is not available here")
            super().__init__(
                stream, descriptions, int(verbosity), bool(failfast), bool(buffer),
                resultclass, warnings,
            )  # fmt: skip

        def run(self, test: Any) -> Any:
            result = super().run(test)
            if not result.wasSuccessful():
                facts.failed = True
            return result

    return TextTestRunner


def _program_module(program_globals: dict[str, Any]) -> types.ModuleType:
    """The program as a module, for the loaders: its public names at this moment."""
    module = types.ModuleType("__main__")
    for name, value in list(program_globals.items()):
        if not name.startswith("_"):
            setattr(module, name, value)
    return module


def unittest_module(
    base: types.ModuleType, program_globals: dict[str, Any], facts: TestFacts
) -> types.ModuleType:
    """This run's `unittest`: the shared proxy's names plus a runner and `main` that report
    failures to `facts`."""
    module = types.ModuleType("unittest")
    vars(module).update({k: v for k, v in vars(base).items() if not k.startswith("_")})
    runner_class = _runner_class(facts)

    def main(
        module: Any = "__main__",
        *,
        argv: Any = None,
        exit: bool = True,
        verbosity: int = 1,
        failfast: bool = False,
        buffer: bool = False,
        warnings: Any = None,
    ) -> Any:
        """Run the program's TestCase classes and print the report; then, with `exit`
        (the default), end the program as the real `unittest.main()` does."""
        if module != "__main__":
            raise TypeError("unittest.main() runs the tests of this program only")
        if argv is not None and any(arg in ("-v", "--verbose") for arg in list(argv)[1:]):
            verbosity = 2
        if warnings is not None and warnings not in ("default", "ignore", "always", "error"):
            raise ValueError(f"invalid warnings action: {warnings!r}")
        suite = TestLoader().loadTestsFromModule(_program_module(program_globals))
        runner = runner_class(
            verbosity=verbosity, failfast=failfast, buffer=buffer, warnings=warnings or "default"
        )
        result = runner.run(suite)
        if exit:
            raise SystemExit(not result.wasSuccessful())
        return types.SimpleNamespace(result=result)

    module.main = main  # type: ignore[attr-defined]
    module.TextTestRunner = runner_class  # type: ignore[attr-defined]
    return module


UNITTEST_NAMES = frozenset(
    {
        "TestCase", "FunctionTestCase", "TestSuite", "BaseTestSuite", "TestResult", "SkipTest",
        "skip", "skipIf", "skipUnless", "expectedFailure", "addModuleCleanup",
        "doModuleCleanups", "enterModuleContext",
    }
)  # fmt: skip
UNITTEST_STAND_INS: dict[str, Any] = {
    "TextTestResult": TextTestResult,
    "TestLoader": TestLoader,
    "defaultTestLoader": TestLoader(),
}


# -- doctest -----------------------------------------------------------------------------------


def _restricted_compile(
    source: str, filename: str, mode: str, flags: int = 0, dont_inherit: bool = False
) -> Any:
    """doctest's `compile` (its examples are `exec`ed with the result): RestrictedPython's,
    with the program's policy."""
    if mode != "single":
        raise ValueError("doctest examples are compiled one statement at a time")
    result = compile_restricted_single(source, filename, policy=PolicyTransformer)
    if result.errors or result.code is None:
        raise SyntaxError("; ".join(result.errors) or "invalid example")
    return result.code


def _is_example_or_program(filename: str) -> bool:
    return filename == FILENAME or filename.startswith("<doctest ")


def _example_traceback(exc_info: Any) -> str:
    """How doctest reports an example's exception: its frames and the program's only."""
    return format_exception(exc_info[1], _is_example_or_program)


class _NoDebugger:
    """Stands in for the pdb doctest sets up for every run (pdb reads ~/.pdbrc)."""

    def __init__(self, out: Any) -> None:
        pass

    def reset(self) -> None:
        pass

    def set_continue(self) -> None:
        pass

    def set_trace(self, frame: Any = None) -> None:
        raise RuntimeError("there is no debugger here")


def _refuse_logs(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise TypeError("assertLogs needs logging, which is not available here")


def harden_testing() -> None:
    """In the fork server only (see modules.harden_stdlib):

    - doctest compiles examples with the policy: `doctest.compile` shadows the builtin for
      the module's own `exec(compile(example.source, ...), test.globs)`; and sets up no pdb;
    - `TestCase.assertLogs`/`assertNoLogs` are refused: their context hands out a real
      `logging.Logger`, whose `findCaller` walks the stack (paths of this machine).
    """
    _unittest.TestCase.assertLogs = _refuse_logs  # type: ignore[method-assign]
    _unittest.TestCase.assertNoLogs = _refuse_logs  # type: ignore[method-assign]
    _doctest.compile = _restricted_compile  # type: ignore[attr-defined]
    _doctest._exception_traceback = _example_traceback  # type: ignore[attr-defined]
    _doctest._OutputRedirectingPdb = _NoDebugger  # type: ignore[attr-defined]


def _is_hardened() -> bool:
    return vars(_doctest).get("compile") is _restricted_compile


class _Finder(_doctest.DocTestFinder):
    def __init__(self, program_globals: dict[str, Any], exclude_empty: bool) -> None:
        super().__init__(exclude_empty=exclude_empty)
        self._program_globals = program_globals

    def _from_module(self, module: Any, object: Any) -> bool:
        # The program is not in sys.modules: judge by its globals and its module name.
        if inspect.isfunction(object):
            return object.__globals__ is self._program_globals
        if isinstance(object, property):
            return True
        return bool(getattr(object, "__module__", None) == "__main__")


def testmod_function(
    program_globals: dict[str, Any], facts: TestFacts
) -> Callable[..., Any]:
    def testmod(
        m: Any = None,
        name: Any = None,
        *,
        verbose: Any = None,
        report: bool = True,
        optionflags: int = 0,
        exclude_empty: bool = False,
    ) -> Any:
        """Run the examples in the program's docstrings and print the usual report."""
        if m is not None:
            raise TypeError("doctest.testmod() runs the examples of this program only")
        if not _is_hardened():  # fail closed: never the real compile
            raise RuntimeError("doctest is not available")
        module = _program_module(program_globals)
        module.__file__ = FILENAME
        finder = _Finder(program_globals, bool(exclude_empty))
        runner = _doctest.DocTestRunner(verbose=verbose, optionflags=int(optionflags))
        globs = dict(program_globals)
        for test in finder.find(module, "__main__" if name is None else str(name), globs=globs):
            runner.run(test)
        if report:
            runner.summarize()
        if runner.failures:
            facts.failed = True
        return _doctest.TestResults(runner.failures, runner.tries)

    return testmod


DOCTEST_NAMES = frozenset(
    {
        "TestResults", "DONT_ACCEPT_TRUE_FOR_1", "DONT_ACCEPT_BLANKLINE",
        "NORMALIZE_WHITESPACE", "ELLIPSIS", "SKIP", "IGNORE_EXCEPTION_DETAIL",
        "COMPARISON_FLAGS", "REPORT_UDIFF", "REPORT_CDIFF", "REPORT_NDIFF",
        "REPORT_ONLY_FIRST_FAILURE", "FAIL_FAST", "REPORTING_FLAGS",
    }
)  # fmt: skip
