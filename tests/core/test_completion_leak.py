"""A document can't make the engine read or reveal files outside the library paths.

A module with a secret is planted in a world-readable directory (so the unprivileged worker
*could* read it: only the confinement stops it), and documents try every way Jedi has to
reach it. A control shows that plain Jedi does reveal it.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from editor_core.completion import Completion, CompletionEngine
from editor_core.positions import utf16_length

SECRETS = ("SECRET_TOKEN_abc", "secret_fn", "SECRET_PKG_TOKEN", "SECRET_LOCAL_TOKEN")
MODULE_NAMES = ("secretmod", "secretpkg", "secretlocal")


@pytest.fixture(scope="module")
def planted() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="pairpad-secret-"))
    directory.chmod(0o755)
    (directory / "secretmod.py").write_text("SECRET_TOKEN_abc = 1\ndef secret_fn(): pass\n")
    (directory / "secretpkg").mkdir(mode=0o755)
    (directory / "secretpkg" / "__init__.py").write_text("SECRET_PKG_TOKEN = 2\n")
    for path in directory.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield directory
    shutil.rmtree(directory)


def attempts(d: Path) -> list[str]:
    name = d.name
    return [
        f"import sys; sys.path.append('{d}'); import secretmod; secretmod.",
        f"import sys; sys.path.append('{d}')\nfrom secretmod import ",
        f"import sys\nsys.path.insert(0, '{d}')\nimport secretmod\nsecretmod.S",
        f"import sys\nsys.path += ['{d}']\nimport secretmod\nsecretmod.",
        f"import sys\nsys.path[0:0] = ['{d}']\nimport secretmod\nsecretmod.",
        f"import sys\nsys.path.extend(['{d}'])\nimport secretmod\nsecretmod.",
        f"import sys\np = '{d}'\nsys.path.append(p)\nimport secretpkg\nsecretpkg.",
        f"import sys\nsys.path.append('{d}')\nimport secr",
        f"import sys\nsys.path.append('{d}')\nfrom secretpkg import ",
        f"import sys, importlib\nsys.path.append('{d}')\n"
        "m = importlib.import_module('secretmod')\nm.",
        f"import sys\nsys.path.append('{d}')\nm = __import__('secretmod')\nm.",
        # Relative imports climb out of the document's (empty) directory.
        "from . import ",
        "from .. import ",
        "from ... import ",
        f"from ..{name} import secretmod\nsecretmod.",
        f"from ..{name}.secretmod import ",
        f"from ..{name} import ",
        # File names inside strings.
        f"open('{d}/",
        f"open('{d}/secr",
        f'open("{d}/secretpkg/',
    ]


def assert_nothing_revealed(completion: Completion | None, planted: Path) -> None:
    assert completion is not None
    wire = json.dumps(dataclasses.asdict(completion))  # every string the answer carries
    for secret in SECRETS:
        assert secret not in wire
    labels = {s.label for s in completion.suggestions}
    for name in (*MODULE_NAMES, planted.name, "secretmod.py"):
        assert not any(name in label for label in labels), labels


def test_the_planted_module_is_readable_by_anyone(planted: Path) -> None:
    # Otherwise the unprivileged worker could not read it, and the test would prove nothing.
    for path in [planted, *planted.parents]:
        assert path.stat().st_mode & 0o005 == 0o005
    assert (planted / "secretmod.py").stat().st_mode & 0o004


@pytest.mark.parametrize("index", range(20))
async def test_document_cannot_reach_the_planted_module(
    engine: CompletionEngine, planted: Path, index: int
) -> None:
    code = attempts(planted)[index]
    completion = await engine.complete(code, utf16_length(code))
    assert_nothing_revealed(completion, planted)


async def test_the_secret_in_the_document_itself_is_fine(engine: CompletionEngine) -> None:
    # The confinement hides other files, not the document: its own names still complete.
    code = "SECRET_LOCAL_TOKEN = 1\nSECRET_LO"
    completion = await engine.complete(code, utf16_length(code))
    assert completion is not None
    assert [s.label for s in completion.suggestions] == ["SECRET_LOCAL_TOKEN"]


def test_control_plain_jedi_reveals_the_secret(planted: Path) -> None:
    """Without the confinement, the first attempt shows the secret (in a child process, so
    this test process never runs Jedi unconfined)."""
    code = attempts(planted)[0]
    script = (
        "import sys, jedi\n"
        "code = sys.stdin.read()\n"
        "print([c.name for c in jedi.Script(code).complete()])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        input=code,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "SECRET_TOKEN_abc" in result.stdout


def inspection_attempts(d: Path) -> list[str]:
    """Documents whose last name is defined in the planted module, if Jedi could reach it."""
    return [
        f"import sys; sys.path.append('{d}'); import secretmod; secretmod.secret_fn",
        f"import sys\nsys.path.insert(0, '{d}')\nfrom secretmod import SECRET_TOKEN_abc",
        f"import sys\nsys.path.append('{d}')\nimport secretpkg\nsecretpkg.SECRET_PKG_TOKEN",
        f"from ..{d.name} import secretmod\nsecretmod.secret_fn(",
    ]


@pytest.mark.parametrize("index", range(4))
async def test_signatures_hover_and_definition_reveal_nothing_either(
    engine: CompletionEngine, planted: Path, index: int
) -> None:
    code = inspection_attempts(planted)[index]
    end = utf16_length(code)
    answers = [
        await engine.signatures(code, end),
        await engine.hover(code, end - 1),
        await engine.definition(code, end - 1),
    ]
    wire = json.dumps(answers, default=dataclasses.asdict)  # every string the answers carry
    for secret in (*SECRETS, str(planted)):
        assert secret not in wire
    assert answers[2] is None  # nothing outside the document and the library is named
