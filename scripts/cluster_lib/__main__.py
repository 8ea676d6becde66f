"""`scripts/cluster`: a whole local deployment for trying the multi-process mode
(docs/deploy.md): a throwaway PostgreSQL, a redis-server, N Pairpad processes and nginx
round-robin in front. Ctrl-C (SIGINT) or SIGTERM stops everything and removes the temp dirs.

A part that exits while the cluster starts is an error: everything stops, exit status 1.
Once the cluster is up, a part that exits (you killed it to watch a fail-over) is reported
and the rest keeps running until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from types import FrameType

from scripts.cluster_lib.nginx_proxy import BALANCES, running_nginx
from scripts.cluster_lib.pairpad_process import PairpadProcess, PrefixedOutput, start_pairpad
from scripts.cluster_lib.postgres_server import running_postgres
from scripts.cluster_lib.process import StartError, free_port
from scripts.cluster_lib.redis_server import running_redis

WATCH_INTERVAL_S = 0.5  # how often a running cluster checks that its parts are alive


class Stop(Exception):
    """SIGINT or SIGTERM arrived: unwind, stopping every part on the way out."""


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/cluster",
        description="Run PostgreSQL, Redis, N Pairpad processes and nginx on 127.0.0.1. "
                    "Arguments after -- go to every Pairpad process.",
    )
    parser.add_argument("--processes", type=int, default=3, metavar="N",
                        help="Pairpad processes behind nginx (default: 3)")
    parser.add_argument("--port", type=int, default=8000,
                        help="nginx listens on 127.0.0.1:PORT (default: 8000; 0: a free port)")
    parser.add_argument("--balance", choices=BALANCES, default="round-robin",
                        help="how nginx spreads requests: round-robin, or room (a room's "
                             "clients meet on one process; docs/deploy.md \"Capacity\")")
    parser.add_argument("--server-module", default="server", metavar="MODULE",
                        help="what `python -m` runs as a Pairpad process (default: server)")
    parser.add_argument("server_args", nargs="*", metavar="-- SERVER_ARG",
                        help="extra arguments for every Pairpad process")
    args = parser.parse_args(argv)
    if not 1 <= args.processes <= 32:
        parser.error("--processes must be between 1 and 32")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    out = PrefixedOutput(sys.stdout)

    def say(text: str) -> None:
        out.line("[cluster] ", text)

    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set():
            say("already stopping, please wait")
            return
        stopping.set()
        raise Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    code = 1
    with ExitStack() as stack:
        try:
            code = run(args, stack, say, out, stopping)
        except Stop as stop:
            say(f"{stop}: stopping everything")
            code = 0
        except StartError as error:
            say(f"FAILED: {error}")
            say("stopping everything")
            code = 1
        finally:
            stopping.set()  # a signal during the clean-up below only prints "please wait"
    say("stopped; temp dirs removed")
    return code


def run(args: argparse.Namespace, stack: ExitStack, say: Callable[[str], None],
        out: PrefixedOutput, stopping: threading.Event) -> int:
    say("starting PostgreSQL")
    pg = stack.enter_context(running_postgres())
    say(f"postgres   {pg.url}  (log {pg.log})")
    redis = stack.enter_context(running_redis())
    say(f"redis      {redis.url}  (log {redis.log})")

    token = os.environ.get("PAIRPAD_ADMIN_TOKEN") or secrets.token_urlsafe(24)
    processes: list[PairpadProcess] = []
    for i in range(1, args.processes + 1):
        process = start_pairpad(f"pairpad-{i}", free_port(), pg.url, redis.url, out,
                                args.server_args, {"PAIRPAD_ADMIN_TOKEN": token},
                                args.server_module)
        stack.callback(process.stop)  # LIFO: stopped after nginx, before Redis
        processes.append(process)
    for process in processes:
        process.wait_healthy()
        say(f"{process.name:<10} {process.url}  (pid {process.proc.pid})")

    nginx = stack.enter_context(running_nginx([p.port for p in processes], port=args.port,
                                                balance=args.balance))
    say(f"nginx      {nginx.url}  round-robin over {len(processes)} processes "
        f"(conf {nginx.conf})")
    say(f"admin token (every process): {token}")
    say(f"ready: open {nginx.url}  -- Ctrl-C stops everything")

    reported: set[str] = set()
    parts = {"postgres": pg.proc, "redis": redis.proc, "nginx": nginx.proc,
             **{p.name: p.proc for p in processes}}
    while not stopping.wait(WATCH_INTERVAL_S):
        for name, proc in parts.items():
            if name not in reported and proc is not None and proc.poll() is not None:
                reported.add(name)
                say(f"{name} exited with {proc.returncode}; the rest keeps running "
                    "(docs/deploy.md: when a part fails)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
