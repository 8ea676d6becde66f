"""A throwaway `redis-server` on 127.0.0.1: nothing saved, its own temp dir, and a fixed port
across `kill()` / `restart()` so clients reconnect to the same URL and find it empty (the bus
holds no state that matters: docs/deploy.md, "When a part fails")."""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from scripts.cluster_lib.process import (
    StartError,
    find_binary,
    free_port,
    kill,
    make_temp_dir,
    remove_tree,
    stop,
    wait_until,
)

START_DEADLINE_S = 15.0


def redis_binary() -> str | None:
    return find_binary("redis-server")


def command(port: int, *args: str, timeout: float = 2.0) -> bytes:
    """Send one command (RESP over a plain socket, so no client library is needed) and return
    the first line of the reply, e.g. b"+PONG", b":0", b"-ERR ..."."""
    request = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request.encode())
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = s.recv(4096)
            if not chunk:
                raise ConnectionError(f"redis on port {port} closed the connection")
            reply += chunk
        return reply.split(b"\r\n", 1)[0]


def info(port: int, timeout: float = 2.0) -> dict[str, str]:
    """`INFO` as a dict (`total_commands_processed`, `used_cpu_user`, ...): one bulk reply,
    read to its announced length."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"*1\r\n$4\r\nINFO\r\n")
        reply = b""
        while b"\r\n" not in reply or len(reply) < (
                reply.index(b"\r\n") + int(reply[1:reply.index(b"\r\n")]) + 4):
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError(f"redis on port {port} closed the connection")
            reply += chunk
    lines = reply.decode(errors="replace").split("\r\n")[1:]
    return dict(line.split(":", 1) for line in lines if ":" in line and not line.startswith("#"))


def ping(port: int, timeout: float = 1.0) -> bool:
    """True when a Redis on `port` answers PING with PONG."""
    try:
        return command(port, "PING", timeout=timeout) == b"+PONG"
    except OSError:
        return False


@dataclass
class RedisServer:
    port: int
    dir: Path
    binary: str
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> Path:
        return self.dir / "redis.log"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start on `self.port` with an empty data set and wait until it answers PING."""
        if self.running:
            raise StartError(f"redis on port {self.port} is already running")
        data = self.dir / "data"
        remove_tree(data)  # restart empty: nothing may survive a kill (it saves nothing anyway)
        data.mkdir()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", str(data),
                 "--daemonize", "no", "--protected-mode", "yes", "--logfile", ""],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until(lambda: ping(self.port), self.proc, f"redis-server on port {self.port}",
                       START_DEADLINE_S, self.log)
        except BaseException:
            kill(self.proc)
            raise

    def command(self, *args: str) -> bytes:
        """One command, the first line of its reply (`command` above)."""
        return command(self.port, *args)

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would; the port stays reserved for `restart()`."""
        if self.proc is not None:
            kill(self.proc)

    def restart(self) -> None:
        """Kill if running, then start again, empty, on the same port."""
        self.kill()
        self.start()

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, signal.SIGTERM, timeout=10)


@contextmanager
def running_redis(port: int | None = None) -> Iterator[RedisServer]:
    """A started `RedisServer` in its own temp dir, stopped and removed on exit."""
    binary = redis_binary()
    if binary is None:
        raise StartError("redis-server is not installed (Debian: apt-get install redis-server)")
    server = RedisServer(port=port or free_port(), dir=make_temp_dir("pairpad-redis-"),
                         binary=binary)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        remove_tree(server.dir)
