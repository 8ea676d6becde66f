"""The service's handle on the fork server process (see forkserver.py for the messages).

Lives on the event loop: the socket is non-blocking and read with `add_reader`, the fork
server's exit is watched through a pidfd, nothing here blocks the loop except the
`subprocess.Popen` at start (a vfork+exec, about a millisecond).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger("pairpad.execution")

# Where `editor_core` lives, so the fork server finds it under `python -I` (which ignores
# the cwd and PYTHONPATH, and with them anything the server's environment would add).
_IMPORT_ROOT = str(Path(__file__).resolve().parents[2])
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from editor_core.execution.forkserver import main; main(sys.argv[2:])"
)
_START_TIMEOUT_S = 30.0
_CLOSE_TIMEOUT_S = 5.0


class ForkServerDown(Exception):
    """The fork server is not running (or stopped answering)."""


@dataclass
class ChildHandle:
    """One forked child as the service sees it."""

    key: int
    pid: int | None = None
    # The raw wait status once the fork server reaped it; None if the machinery failed.
    exited: asyncio.Future[int | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass(frozen=True)
class ChildRequest:
    uid: int | None
    cpu_time_s: int
    memory_bytes: int
    output_bytes: int


class ForkServerClient:
    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._gone: asyncio.Future[None] | None = None
        self._ready: asyncio.Future[dict[str, object]] | None = None
        self._children: dict[int, ChildHandle] = {}
        self._next_key = 1
        self.network_isolated = False
        self.filesystem_hidden = False
        self.privileged = False

    @property
    def alive(self) -> bool:
        return self._sock is not None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    async def start(self) -> None:
        if self.alive:
            return
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            # Blocking, but a vfork+exec: about a millisecond, once per fork server.
            process = subprocess.Popen(  # noqa: ASYNC220
                [sys.executable, "-I", "-c", _BOOT, _IMPORT_ROOT, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env={},
                cwd="/",
                # Out of the server's process group: a Ctrl-C on the terminal reaches the
                # server, which then closes us in order.
                start_new_session=True,
            )
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self._process = process
        self._sock = ours
        self._ready = loop.create_future()
        self._gone = loop.create_future()
        pidfd = os.pidfd_open(process.pid)
        loop.add_reader(pidfd, self._on_process_exit, process, pidfd, self._gone)
        loop.add_reader(ours.fileno(), self._on_readable)
        try:
            ready = await asyncio.wait_for(asyncio.shield(self._ready), _START_TIMEOUT_S)
        except (TimeoutError, ForkServerDown):
            await self.close()
            raise ForkServerDown("the fork server did not start") from None
        self.network_isolated = bool(ready.get("networkIsolated"))
        self.filesystem_hidden = bool(ready.get("filesystemHidden"))
        self.privileged = bool(ready.get("privileged"))
        logger.info(
            "event=forkserver.ready pid=%d privileged=%s network_isolated=%s filesystem_hidden=%s",
            process.pid, self.privileged, self.network_isolated, self.filesystem_hidden,
        )  # fmt: skip

    def launch(self, request: ChildRequest, program_fd: int, pipe_fd: int) -> ChildHandle:
        """Ask for a child; the caller closes its copies of the two descriptors."""
        if self._sock is None:
            raise ForkServerDown("the fork server is not running")
        handle = ChildHandle(self._next_key)
        self._next_key += 1
        message = {
            "op": "run",
            "id": handle.key,
            "uid": request.uid,
            "cpu": request.cpu_time_s,
            "memory": request.memory_bytes,
            "output": request.output_bytes,
        }
        try:
            socket.send_fds(self._sock, [json.dumps(message).encode()], [program_fd, pipe_fd])
        except OSError as error:
            # A full buffer means it stopped reading: as good as dead.
            self._lose("send failed")
            raise ForkServerDown("the fork server is not answering") from error
        self._children[handle.key] = handle
        return handle

    def kill(self, handle: ChildHandle) -> None:
        """Kill the child's process group. Its `exited` resolves once it is reaped."""
        if handle.exited.done():
            return
        if self._sock is None:
            return
        try:
            self._sock.send(json.dumps({"op": "kill", "id": handle.key}).encode())
        except OSError:
            self._lose("send failed")

    def abort(self, reason: str) -> None:
        """Kill the fork server outright (it stopped doing its job); its children die with
        it (parent-death signal), and `_lose` kills their groups as well."""
        process = self._process
        self._lose(reason)
        if process is not None:
            process.kill()

    async def close(self) -> None:
        """Close the socket: the fork server kills and reaps every child, then exits."""
        process, gone = self._process, self._gone
        self._lose("closed")
        if process is None or gone is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(gone), _CLOSE_TIMEOUT_S)
        except TimeoutError:
            logger.warning("event=forkserver.kill pid=%d reason=no_exit", process.pid)
            process.kill()
            await gone

    # -- the event loop's side -------------------------------------------------------------

    def _on_readable(self) -> None:
        sock = self._sock
        while sock is not None:
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._lose("the fork server closed its socket")
                return
            try:
                self._on_message(json.loads(data))
            except (ValueError, KeyError, TypeError):
                logger.exception("event=forkserver.bad_message")
                self._lose("protocol error")
                return

    def _on_message(self, message: dict[str, object]) -> None:
        event = message["ev"]
        if event == "ready":
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(message)
            return
        key = _int_field(message, "id")
        handle = self._children.get(key)
        if handle is None:
            return
        if event == "started":
            handle.pid = _int_field(message, "pid")
        elif event == "exit":
            del self._children[key]
            status = _int_field(message, "status")
            if not handle.exited.done():
                handle.exited.set_result(status)
        elif event == "failed":
            del self._children[key]
            logger.warning(
                "event=forkserver.fork_failed child=%d reason=%r", key, message.get("error")
            )
            if not handle.exited.done():
                handle.exited.set_result(None)

    def _lose(self, reason: str) -> None:
        """Forget the fork server: every child it had ends as a machinery failure."""
        sock, self._sock = self._sock, None
        if sock is not None:
            asyncio.get_running_loop().remove_reader(sock.fileno())
            sock.close()
            if reason != "closed":
                logger.warning("event=forkserver.lost reason=%r", reason)
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(ForkServerDown(reason))
            # Nobody may be waiting any more: don't let it be logged as never retrieved.
            self._ready.exception()
        children, self._children = self._children, {}
        for handle in children.values():
            if handle.pid is not None:
                # Normally gone already (parent-death signal); this covers a child that
                # had not armed it yet. Root kills across uids; a stale pid is unlikely
                # within the lifetime of the run that holds it.
                _kill_group(handle.pid)
            if not handle.exited.done():
                handle.exited.set_result(None)

    def _on_process_exit(
        self, process: subprocess.Popen[bytes], pidfd: int, gone: asyncio.Future[None]
    ) -> None:
        asyncio.get_running_loop().remove_reader(pidfd)
        os.close(pidfd)
        process.wait()  # it exited: this only reaps
        if process is self._process:
            self._process = None
            self._lose("the fork server exited")
        if not gone.done():
            gone.set_result(None)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _int_field(message: dict[str, object], name: str) -> int:
    """`message[name]` as an int; a missing or non-int field raises KeyError or TypeError, which
    the reader turns into a protocol error (an assert would escape that, and `-O` drops it)."""
    value = message[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"fork server message field {name!r} is not an int: {value!r}")
    return value
