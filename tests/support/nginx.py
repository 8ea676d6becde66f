"""nginx round-robin in front of backends on 127.0.0.1, WebSockets included, for the cluster
tests.

    with nginx([port_a, port_b]) as proxy:
        proxy.url, proxy.ws_url   # http://127.0.0.1:<port>, ws://127.0.0.1:<port>

One worker process, so requests alternate exactly between backends. The conf and start/stop
code is `scripts.cluster_lib.nginx_proxy`, shared with `scripts/cluster`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from scripts.cluster_lib.nginx_proxy import NginxProxy, nginx_binary, running_nginx
from tests.support.required_tool import missing

__all__ = ["NginxProxy", "nginx"]


@contextmanager
def nginx(backend_ports: Sequence[int], balance: str = "round-robin") -> Iterator[NginxProxy]:
    """Skips (fails under CI=true) when nginx is not installed."""
    if nginx_binary() is None:
        missing("nginx", "nginx")
    with running_nginx(backend_ports, balance=balance) as proxy:
        yield proxy
