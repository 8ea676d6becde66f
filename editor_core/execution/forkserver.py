"""The fork server: a warm process that forks one child per run.

Started by `ForkServerClient` with RestrictedPython, the policy and every allowed module
already imported, so a run costs one `fork()` instead of an interpreter start. It speaks
JSON messages over a SOCK_SEQPACKET socket (one message per datagram, file descriptors as
SCM_RIGHTS):

    client -> server  {"op": "run", "id", "uid", "cpu", "memory", "output"} + [program, pipe]
                      {"op": "kill", "id"}
    server -> client  {"ev": "ready", "networkIsolated", "filesystemHidden", "privileged"}
                      {"ev": "started", "id", "pid"}
                      {"ev": "exit", "id", "status"}     (raw wait status, after reaping)
                      {"ev": "failed", "id", "error"}    (the fork itself failed)

It is the parent of every child, so it alone reaps them and it alone kills them: a kill sent
before the "exit" event can never hit a recycled pid (the zombie holds it). End of file on
the socket (the service closed it, or its process died) makes it kill every child, reap them
and exit: no run outlives the service.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import tempfile
import time
import types
from collections.abc import Mapping
from dataclasses import dataclass

from editor_core.execution import child, safe_copy
from editor_core.execution.modules import build_proxies, harden_stdlib
from editor_core.execution.streams import OutputSink
from editor_core.execution.walls import Walls

_CLONE_NEWNET = 0x40000000
_MAX_MESSAGE = 64 * 1024
# Modules the interpreter or the allowed modules import lazily, on first use. A child cannot
# import anything itself: as the sandbox uid it may not even read the interpreter's
# directories (here under /root), so they must be in memory before the fork.
_PRELOAD = (
    "array",  # socket.recv_fds, in the fork server itself
    "unicodedata",  # NFKC normalization of non-ASCII identifiers, in the tokenizer
    "_strptime",  # datetime.strptime
    "encodings.ascii",
    "encodings.latin_1",
    "encodings.cp1252",
    "encodings.utf_16",
    "encodings.utf_32",
    "encodings.utf_8_sig",
    "encodings.unicode_escape",
    "encodings.raw_unicode_escape",
)
_WARM_UP = """
import json, re, datetime
from dataclasses import dataclass
@dataclass
class Point:
    x: int
    y: int = 0
print(json.dumps({"p": [Point(1).x]}), re.sub("a", "b", "a"))
print(datetime.datetime.strptime("2024", "%Y").year)
import copy, csv, hashlib, io, pprint, time, traceback, unittest, doctest, warnings, uuid
pprint.pprint(copy.deepcopy({"p": [Point(1)]}))
buffer = io.StringIO()
csv.writer(buffer).writerow([1, "a"])
print(list(csv.reader(io.StringIO(buffer.getvalue()))), hashlib.sha256(b"").hexdigest())
print(time.monotonic() > 0, uuid.uuid4().version)
warnings.warn("warm")
try:
    1 / 0
except ZeroDivisionError:
    print(traceback.format_exc())
def double(x):
    '''
    >>> double(2)
    4
    '''
    return 2 * x
class Warm(unittest.TestCase):
    def test_warm(self):
        self.assertEqual(double(1), 3)
doctest.testmod()
unittest.main(exit=False, verbosity=2)
raise ValueError("warm")
"""


@dataclass
class _Child:
    pid: int
    pidfd: int


def _isolate_network() -> bool:
    """Move the fork server (and so every child) into an empty network namespace.

    `os.unshare` arrived in Python 3.12; on 3.11 we call libc. Needs root (CAP_SYS_ADMIN);
    without it we go on without and report it in the "ready" message.
    """
    if os.geteuid() != 0:
        return False
    unshare = getattr(os, "unshare", None)
    if unshare is not None:
        try:
            unshare(_CLONE_NEWNET)
        except OSError:
            return False
        return True
    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.unshare(_CLONE_NEWNET) == 0)


def _warm_up(proxies: Mapping[str, types.ModuleType]) -> None:
    """Run a program in-process, output discarded, so lazy imports and caches happen once
    here instead of in every child."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        child.run_program(_WARM_UP, "", OutputSink(devnull, 1 << 16), proxies)
    finally:
        os.close(devnull)


class ForkServer:
    def __init__(
        self,
        sock: socket.socket,
        root_fd: int,
        devnull_fd: int,
        proxies: Mapping[str, types.ModuleType],
    ) -> None:
        self._sock = sock
        self._root_fd = root_fd
        self._devnull_fd = devnull_fd
        self._proxies = proxies
        self._children: dict[int, _Child] = {}
        self._selector = selectors.DefaultSelector()

    def send(self, message: dict[str, object]) -> None:
        self._sock.send(json.dumps(message).encode())

    def serve(self) -> None:
        self._selector.register(self._sock, selectors.EVENT_READ, None)
        while True:
            for key, _ in self._selector.select():
                if key.data is None:
                    if not self._receive():
                        return
                else:
                    self._reap(key.data)

    def _receive(self) -> bool:
        data, fds, _, _ = socket.recv_fds(self._sock, _MAX_MESSAGE, 2)
        if not data:
            for fd in fds:
                os.close(fd)
            return False
        message = json.loads(data)
        if message["op"] == "run":
            program_fd, pipe_fd = fds
            try:
                self._fork(message, program_fd, pipe_fd)
            finally:
                os.close(program_fd)
                os.close(pipe_fd)
        elif message["op"] == "kill":
            running = self._children.get(message["id"])
            if running is not None:
                # The child itself first: a kill that arrives before its setsid() would find
                # no process group of that id yet.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(running.pid, signal.SIGKILL)
                _kill_group(running.pid)
        return True

    def _fork(self, message: dict[str, int | None], program_fd: int, pipe_fd: int) -> None:
        run_id = message["id"]
        if not isinstance(run_id, int):  # checked even under -O: the id keys self._children
            raise TypeError(f"run message without an int id: {run_id!r}")
        walls = Walls(
            cpu_time_s=int(message["cpu"] or 1),
            memory_bytes=int(message["memory"] or 0),
            uid=message["uid"],
            root_fd=self._root_fd,
            devnull_fd=self._devnull_fd,
            parent_pid=os.getpid(),
        )
        output_bytes = int(message["output"] or 0)
        try:
            pid = os.fork()
        except OSError as error:
            self.send({"ev": "failed", "id": run_id, "error": error.strerror or "fork failed"})
            return
        if pid == 0:  # pragma: no cover - the child; it ends in os._exit
            try:
                child.main(walls, output_bytes, program_fd, pipe_fd, self._proxies)
            finally:
                os._exit(child.EXIT_MACHINERY)
        pidfd = os.pidfd_open(pid)
        self._children[run_id] = _Child(pid, pidfd)
        self._selector.register(pidfd, selectors.EVENT_READ, run_id)
        self.send({"ev": "started", "id": run_id, "pid": pid})

    def _reap(self, run_id: int) -> None:
        running = self._children.pop(run_id)
        self._selector.unregister(running.pidfd)
        os.close(running.pidfd)
        # The leader exited; kill anything left in its group while its zombie still holds
        # the pid (and so the group id), then reap.
        _kill_group(running.pid)
        _, status = os.waitpid(running.pid, 0)
        self.send({"ev": "exit", "id": run_id, "status": status})

    def shutdown(self) -> None:
        for running in self._children.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(running.pid, signal.SIGKILL)
            _kill_group(running.pid)
        for running in self._children.values():
            os.waitpid(running.pid, 0)
            os.close(running.pidfd)
        self._children.clear()
        self._selector.close()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def empty_root() -> int:
    """A descriptor of an empty directory that no longer has a name: nothing can ever be
    created in it, and nothing is left behind however the fork server ends."""
    path = tempfile.mkdtemp(prefix="pairpad-sandbox-")
    os.chmod(path, 0o555)  # noqa: S103 - empty and read-only
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    os.rmdir(path)
    return fd


def hide_filesystem(root_fd: int) -> bool:
    """As root, make the empty directory our root (children inherit it): no file of the
    machine, the server's database included, can even be named from a child. Everything the
    fork server and its children will need is in memory or open by now."""
    if os.geteuid() != 0:
        return False
    os.fchdir(root_fd)
    os.chroot(".")
    return True


def main(argv: list[str]) -> None:
    sock = socket.socket(fileno=int(argv[0]))
    network_isolated = _isolate_network()
    for name in _PRELOAD:
        importlib.import_module(name)
    harden_stdlib()
    proxies = build_proxies()
    _warm_up(proxies)
    # After every import and warm-up: the classes the standard library will ever have.
    safe_copy.trust_existing_classes()
    time.localtime()  # the C library reads and caches /etc/localtime now
    devnull_fd = os.open(os.devnull, os.O_RDWR)
    root_fd = empty_root()
    filesystem_hidden = hide_filesystem(root_fd)
    # Objects that exist now are never collected in a child: keeping the collector off
    # their pages keeps them shared (copy-on-write) between the fork server and its children.
    gc.freeze()
    server = ForkServer(sock, root_fd, devnull_fd, proxies)
    try:
        server.send(
            {
                "ev": "ready",
                "networkIsolated": network_isolated,
                "filesystemHidden": filesystem_hidden,
                "privileged": os.geteuid() == 0,
            }
        )
        server.serve()
    finally:
        server.shutdown()


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
