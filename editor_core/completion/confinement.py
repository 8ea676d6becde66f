"""Keep Jedi inside the Python installation's library paths (run in the worker only).

Jedi reads whatever `.py` the process can read when the document points it there, and a
document is untrusted. Left alone it follows `sys.path.append('/some/dir')` written in the
code, relative imports climb out of the document's directory (`from .. import` lists `/`), and
string literals complete file names. Each of those is cut at its source below, and every
answer is checked once more against the allowed roots (`is_allowed`), so a missed path still
cannot show a name defined outside them. The worker also drops to an unprivileged user.

These are patches of Jedi 0.20 / parso 0.8 internals, pinned by tests/core/test_completion_leak.py.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import sys
import sysconfig
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

NOBODY = 65534


def library_paths() -> list[str]:
    """The Python installation's library directories: Jedi's whole `sys_path`."""
    keys = ("stdlib", "platstdlib", "purelib", "platlib")
    found = [sysconfig.get_paths()[key] for key in keys]
    found += [p for p in sys.path if p.endswith("lib-dynload")]
    unique: list[str] = []
    for path in found:
        real = os.path.realpath(path)
        if os.path.isdir(real) and real not in unique:
            unique.append(real)
    return unique


def is_allowed(path: Path | None, roots: Iterable[str], document: Path) -> bool:
    """Whether a completion defined in `path` may be shown: builtins (no path), the document
    itself, or a file under one of `roots`."""
    if path is None or path == document:
        return True
    real = _realpath(os.fspath(path))
    return any(real == root or real.startswith(root + os.sep) for root in roots)


@functools.lru_cache(maxsize=4096)
def _realpath(path: str) -> str:
    # A few system calls per completion otherwise; library files don't move while we run.
    return os.path.realpath(path)


def confine_jedi() -> None:
    """Patch Jedi so a document can't widen what it reads. Idempotent."""
    import jedi
    import jedi.api.completion
    import jedi.inference.imports
    import jedi.inference.sys_path
    import parso.cache

    # `sys.path.append(...)`, `.insert(...)`, `sys.path += [...]` in the document: Jedi adds
    # those directories to its search path (`check_sys_path_modifications`); add nothing.
    def no_sys_path_modifications(module_context: Any) -> list[Path]:
        return []

    jedi.inference.sys_path.check_sys_path_modifications = no_sys_path_modifications

    # A relative import in the document (which is no package) makes Jedi guess a directory
    # relative to the document's path and search it: refuse. Relative imports inside library
    # packages resolve through the package name and never reach this branch.
    importer = jedi.inference.imports.Importer
    if not getattr(importer, "_pairpad_confined", False):
        original_init = importer.__init__

        def confined_init(self: Any, *args: Any, **kwargs: Any) -> None:
            original_init(self, *args, **kwargs)
            if self._fixed_sys_path is not None:
                self._fixed_sys_path = []
                self._infer_possible = False

        importer.__init__ = confined_init
        importer._pairpad_confined = True

    # File-name completion inside string literals lists any directory.
    def no_file_names(*args: Any, **kwargs: Any) -> Iterator[Any]:
        return iter(())

    jedi.api.completion.complete_file_name = no_file_names

    # parso's on-disk cache unpickles files: a directory another process could write to
    # would be code execution in the worker. The in-memory cache is enough for a long-lived
    # process.
    def no_disk_load(*args: Any, **kwargs: Any) -> None:
        return None

    def no_disk_save(*args: Any, **kwargs: Any) -> None:
        return None

    parso.cache._load_from_file_system = no_disk_load
    parso.cache._save_to_file_system = no_disk_save
    parso.cache._remove_cache_and_update_lock = no_disk_save

    # Never import a library to inspect it (Jedi's default imports `gi`), and don't search
    # other files for the calls of a function (`dynamic_params_for_other_modules`): slow,
    # and it reads the project directory.
    jedi.settings.auto_import_modules = []
    jedi.settings.dynamic_params_for_other_modules = False


def _readable_by_others(path: str) -> bool:
    """Whether a user with no relation to the owner can list `path` (every ancestor o+x)."""
    current = Path(path)
    for part in [current, *current.parents]:
        mode = part.stat().st_mode
        if not mode & 0o001 or (part == current and not mode & 0o004):
            return False
    return True


def snapshot_library_listings(roots: Iterable[str]) -> int:
    """Keep listing library directories after the privilege drop. Returns how many.

    A Python installed in a directory only its owner may enter (e.g. pyenv under /root)
    can't be listed once the worker is nobody, and `import col|` would find nothing. Module
    files load through their stubs either way; only the *listing* is lost, so take it now,
    while still privileged. The library does not change while the worker lives.
    """
    from jedi.inference.compiled.subprocess import functions

    original = functions.iter_module_names
    listings: dict[str, list[str]] = {}
    for root in roots:
        if _readable_by_others(root):
            continue
        for directory, subdirectories, _ in os.walk(root):
            subdirectories[:] = [
                d for d in subdirectories if d.isidentifier() and d != "__pycache__"
            ]
            listings[directory] = list(original(None, [directory]))
    if not listings:
        return 0

    def listed(inference_state: Any, paths: Iterable[str]) -> list[str]:
        names: list[str] = []
        for path in paths:
            known = listings.get(os.fspath(path))
            names += known if known is not None else original(inference_state, [path])
        return names

    functions.iter_module_names = listed
    return len(listings)


def stubs_directory(project_dir: str) -> str:
    """Where `expose_stubs` puts its copy: beside the project, removed with it."""
    return project_dir + "-stubs"


def expose_stubs(target: str) -> bool:
    """Keep Jedi's bundled stubs readable after the privilege drop. True if copied.

    Jedi reads standard-library modules through the typeshed stubs it ships inside its
    package. When that package lies under a directory only its owner may enter (a checkout or
    venv in /root, or in a `mktemp -d` folder), nobody can't read them, and `json.` would
    complete nothing. Then the stubs are linked (or copied) into `target`, which everyone may
    read, and Jedi is pointed there. Read-only data that ships with Jedi: nothing of the host.
    """
    import jedi.inference.gradual.typeshed as typeshed
    import jedi.inference.gradual.utils as gradual_utils

    source = typeshed.TYPESHED_PATH.parent  # jedi/third_party: typeshed and django-stubs
    if _readable_by_others(str(typeshed.TYPESHED_PATH)):
        return False
    if not os.path.isdir(target):
        with contextlib.suppress(FileExistsError):  # a respawned worker made it already
            shutil.copytree(source, target, copy_function=_link_or_copy)
    info = os.lstat(target)
    if info.st_uid != os.getuid() or not os.path.isdir(target) or os.path.islink(target):
        raise PermissionError(f"{target} is not a directory of ours")  # planted: never trust
    for directory, _, _ in os.walk(target):
        os.chmod(directory, 0o755)  # noqa: S103 (public stub files, read by nobody)
    moved = Path(target) / typeshed.TYPESHED_PATH.relative_to(source)
    typeshed.DJANGO_INIT_PATH = Path(target) / typeshed.DJANGO_INIT_PATH.relative_to(source)
    typeshed.TYPESHED_PATH = moved
    gradual_utils.TYPESHED_PATH = moved
    return True


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)  # same file system: no data copied
    except OSError:
        shutil.copy2(source, target)
    os.chmod(target, 0o644)


def import_jedi_fully() -> int:
    """Import every module of jedi and parso now. Jedi imports some lazily (e.g.
    `jedi.inference.star_args` on a signature); after the privilege drop a venv in a folder
    only its owner may enter can't be read, and such an import would fail. Returns how many."""
    import importlib
    import pkgutil

    import jedi
    import parso

    count = 0
    for package in (jedi, parso):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.endswith("__main__") or ".third_party" in info.name:
                continue
            importlib.import_module(info.name)
            count += 1
    return count


def drop_privileges() -> bool:
    """As root, become nobody (uid/gid 65534, no supplementary groups). True if dropped."""
    if os.getuid() != 0:
        return False
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    return True
