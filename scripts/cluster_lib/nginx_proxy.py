"""nginx in front of Pairpad processes: round-robin over 127.0.0.1 backends, WebSockets
passed through, everything (pid, logs, temp files) inside its own temp dir, `daemon off` so
it is our child.

Round-robin without sticky sessions is the point: any process can take any client, a room's
owner is found through Redis (docs/deploy.md).
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from scripts.cluster_lib.process import (
    StartError,
    accepts_connections,
    find_binary,
    free_port,
    kill,
    make_temp_dir,
    remove_tree,
    stop,
    wait_until,
)

START_DEADLINE_S = 15.0
# An idle WebSocket must outlive nginx's read timeout (60 s by default), or nginx closes it
# and the client reconnects for nothing; the server's own pings keep live ones busy anyway.
IDLE_TIMEOUT = "1h"


def nginx_binary() -> str | None:
    return find_binary("nginx", ("/usr/sbin",))


BALANCES = ("round-robin", "room")


def render_conf(prefix: Path, listen_port: int, backend_ports: Sequence[int],
                worker_processes: int = 1, balance: str = "round-robin") -> str:
    """The whole nginx.conf. One worker by default: round-robin state is per worker, so one
    worker alternates exactly (tests rely on it); `scripts/cluster` may ask for more.

    `balance="room"` sends every request that names a room (`/ws/<room>/…`, `/r/<room>`,
    `/rooms/<room>`) to the process its id hashes to, so a room's clients meet on one process,
    its owner, and nothing is relayed (docs/deploy.md "Capacity"); the rest is round-robin."""
    if not backend_ports:
        raise ValueError("nginx needs at least one backend")
    if balance not in BALANCES:
        raise ValueError(f"balance must be one of {BALANCES}")
    servers = "\n".join(f"        server 127.0.0.1:{port};" for port in backend_ports)
    if balance == "room":  # an empty key falls back to round-robin in nginx's hash
        servers = "        hash $pairpad_room consistent;\n" + servers
    # As root, workers run as nobody by default and could not write into a root-owned temp
    # dir; make_temp_dir leaves the prefix traversable, and nginx chowns its temp dirs.
    return f"""\
daemon off;
worker_processes {worker_processes};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;

events {{
    worker_connections 8192;
}}

http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;

    # Connection: upgrade for WebSocket handshakes, keep-alive to the backends otherwise.
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      '';
    }}

    # The room a request is about (used by balance="room"; empty: no room).
    map $uri $pairpad_room {{
        ~^/(?:ws|r|rooms)/(?<room>[A-Za-z0-9_-]+)  $room;
        default                                   '';
    }}

    upstream pairpad {{
{servers}
        keepalive 32;
    }}

    server {{
        listen 127.0.0.1:{listen_port};
        client_max_body_size 16m;

        location / {{
            proxy_pass http://pairpad;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout {IDLE_TIMEOUT};
            proxy_send_timeout {IDLE_TIMEOUT};
            # Run output and frames stream: pass them on as they come.
            proxy_buffering off;
        }}
    }}
}}
"""


@dataclass
class NginxProxy:
    port: int
    dir: Path
    backend_ports: tuple[int, ...]
    binary: str
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def conf(self) -> Path:
        return self.dir / "nginx.conf"

    @property
    def log(self) -> Path:
        return self.dir / "error.log"

    def start(self, worker_processes: int = 1, balance: str = "round-robin") -> None:
        self.conf.write_text(render_conf(self.dir, self.port, self.backend_ports,
                                         worker_processes, balance))
        with (self.dir / "stderr.log").open("ab") as out:
            # -e: nginx opens its compiled-in error log before reading the conf; keep it here.
            self.proc = subprocess.Popen(
                [self.binary, "-c", str(self.conf), "-p", str(self.dir),
                 "-e", str(self.log)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until(lambda: accepts_connections(self.port), self.proc,
                       f"nginx on port {self.port}", START_DEADLINE_S, self.log)
        except BaseException:
            kill(self.proc)
            raise

    def stop(self) -> None:
        """SIGTERM: fast shutdown. SIGQUIT would wait for every open WebSocket to end."""
        if self.proc is not None:
            stop(self.proc, signal.SIGTERM, timeout=10)


@contextmanager
def running_nginx(backend_ports: Sequence[int], port: int | None = None,
                  worker_processes: int = 1, balance: str = "round-robin",
                  ) -> Iterator[NginxProxy]:
    """nginx on `port` (a free one by default) over `backend_ports` on 127.0.0.1 (`balance`:
    see `render_conf`), stopped and its temp dir removed on exit."""
    binary = nginx_binary()
    if binary is None:
        raise StartError("nginx is not installed (Debian: apt-get install nginx)")
    proxy = NginxProxy(port=port or free_port(), dir=make_temp_dir("pairpad-nginx-"),
                       backend_ports=tuple(backend_ports), binary=binary)
    try:
        proxy.start(worker_processes, balance)
        yield proxy
    finally:
        proxy.stop()
        remove_tree(proxy.dir)


