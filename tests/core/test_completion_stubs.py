"""Jedi's bundled stubs stay readable after the worker drops to nobody, even when the venv
lies in a folder only its owner may enter (a `mktemp -d` clone, a checkout in /root)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import jedi.inference.gradual.typeshed as typeshed
import jedi.inference.gradual.utils as gradual_utils
import pytest

from editor_core.completion.confinement import expose_stubs


@pytest.fixture
def private_jedi(tmp_path: Path) -> Iterator[Path]:
    """Point Jedi at a third_party folder under a 0700 directory; restore afterwards."""
    private = tmp_path / "private"
    stub = private / "jedi" / "third_party" / "typeshed" / "stdlib" / "mod.pyi"
    stub.parent.mkdir(parents=True)
    stub.write_text("def f() -> int: ...\n")
    django = private / "jedi" / "third_party" / "django-stubs" / "django-stubs" / "__init__.pyi"
    django.parent.mkdir(parents=True)
    django.write_text("")
    private.chmod(0o700)
    saved = (typeshed.TYPESHED_PATH, typeshed.DJANGO_INIT_PATH, gradual_utils.TYPESHED_PATH)
    typeshed.TYPESHED_PATH = private / "jedi" / "third_party" / "typeshed"
    typeshed.DJANGO_INIT_PATH = django
    try:
        yield tmp_path
    finally:
        typeshed.TYPESHED_PATH, typeshed.DJANGO_INIT_PATH, gradual_utils.TYPESHED_PATH = saved


def test_private_stubs_are_exposed_readable_by_everyone(private_jedi: Path) -> None:
    target = private_jedi / "stubs"
    assert expose_stubs(str(target))
    moved = target / "typeshed"
    assert moved == typeshed.TYPESHED_PATH
    assert moved == gradual_utils.TYPESHED_PATH
    assert target / "django-stubs" / "django-stubs" / "__init__.pyi" == typeshed.DJANGO_INIT_PATH
    copied = moved / "stdlib" / "mod.pyi"
    assert copied.read_text() == "def f() -> int: ...\n"
    assert stat.S_IMODE(copied.stat().st_mode) & 0o004  # others may read the file
    for directory in (target, moved, moved / "stdlib"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o755


def test_a_planted_target_is_refused(private_jedi: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to plant a directory owned by someone else")
    target = private_jedi / "planted"
    target.mkdir()
    os.chown(target, 65534, 65534)
    with pytest.raises(PermissionError):
        expose_stubs(str(target))


def test_readable_stubs_are_left_where_they_are(tmp_path: Path) -> None:
    before = typeshed.TYPESHED_PATH
    if not all(os.stat(p).st_mode & 0o001 for p in [before, *before.parents]):
        pytest.skip("this venv's stubs are private; the other tests cover that case")
    assert not expose_stubs(str(tmp_path / "unused"))
    assert before == typeshed.TYPESHED_PATH
    assert not (tmp_path / "unused").exists()
