"""`scripts/bench_cluster`: the collaboration workload on N Pairpad processes of one deployment.

PostgreSQL and Redis come from scripts/cluster_lib (PostgreSQL with `fsync=off` unless
`--fsync`), started once per run; each scenario starts N processes on a fresh database and
connects its clients to them round-robin (no nginx). The load, the clients and the latency
accounting are bench_collab's (scripts/collab_bench): this module only supplies the target.

1. `fanout`: one room of A authors (13-character tokens at random places, 1 a second) and 3
   observers spread over 1..N processes; the owner runs the session, the others relay.
2. `rooms`: R rooms of 5 authors; each room's owner is whoever loads it first.
3. `confirm`: 10 authors at 10 edits/s, push -> the pusher's confirmation; a single process
   on SQLite against the cluster.

Per process: CPU seconds over the window (/proc/PID/stat) and the updates it accepted (owners
accept, relays do not); PostgreSQL's CPU (postmaster and backends) and commits of the
scenario's database (pg_stat_database); Redis' CPU and commands (INFO).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from scripts.cluster_lib.pairpad_process import PairpadProcess, PrefixedOutput, start_pairpad
from scripts.cluster_lib.postgres_server import PostgresServer, running_postgres
from scripts.cluster_lib.process import free_port
from scripts.cluster_lib.redis_server import RedisServer, info, running_redis

from .__main__ import (
    Result,
    Server,
    Starter,
    Target,
    create_room,
    fmt,
    http_request,
    machine,
    peer_scenario,
    proc_cpu_seconds,
    proc_memory_kib,
    start_workers,
    stop_workers,
    typing_scenario,
)
from .worker import raise_fd_limit


@dataclass
class Backing:
    """The shared parts: one PostgreSQL (a database per scenario) and one Redis."""

    pg: PostgresServer
    redis: RedisServer
    label: str  # "fsync off" / "fsync on"


def tree_cpu_seconds(root: int) -> float:
    """CPU of `root` and its children (the postmaster and its backends)."""
    total = proc_cpu_seconds(root)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == root:
                    total += proc_cpu_seconds(int(entry.name))
    return total


class Cluster:
    """N Pairpad processes (scripts/cluster_lib) on a fresh database; satisfies `Target`."""

    def __init__(self, backing: Backing, processes: int, env: dict[str, str],
                 workdir: Path) -> None:
        self.backing = backing
        url = backing.pg.new_database()
        self.database = url.rsplit("/", 1)[1]
        backing.redis.command("FLUSHALL")  # no leases or summaries from the last scenario
        self._log: TextIO = (workdir / "cluster.log").open("a")
        out = PrefixedOutput(self._log)
        full_env = {"PAIRPAD_LOG_LEVEL": "warning", "PAIRPAD_ADMIN_TOKEN": "bench-admin-token",
                    **env}
        self.members: list[PairpadProcess] = []
        self._created = 0
        try:
            for i in range(1, processes + 1):
                self.members.append(start_pairpad(f"pairpad-{i}", free_port(), url,
                                                  backing.redis.url, out, (), full_env))
            for member in self.members:
                member.wait_healthy()
        except BaseException:
            self.stop()
            raise

    @property
    def ports(self) -> list[int]:
        return [m.port for m in self.members]

    @property
    def pids(self) -> dict[str, int]:
        return {m.name: m.proc.pid for m in self.members}

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return http_request(self.ports[0], method, path, body)

    def create_room(self) -> str:
        # Creating a room loads nothing in a deployment; round-robin warms every process, so
        # that no process wins the rooms' first loads only for being the one that is warm.
        self._created += 1
        return create_room(self.ports[self._created % len(self.ports)])

    def cpu_seconds(self) -> float:
        return sum(proc_cpu_seconds(pid) for pid in self.pids.values())

    def snapshot(self) -> dict[str, float]:
        counters = {f"cpu:{name}": proc_cpu_seconds(pid) for name, pid in self.pids.items()}
        assert self.backing.pg.proc is not None
        assert self.backing.redis.proc is not None
        counters["cpu:postgres"] = tree_cpu_seconds(self.backing.pg.proc.pid)
        counters["cpu:redis"] = proc_cpu_seconds(self.backing.redis.proc.pid)
        counters["redis_commands"] = float(
            info(self.backing.redis.port)["total_commands_processed"])
        # The name is new_database()'s own `pairpad_<n>`, nothing from outside.
        sql = f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{self.database}'"  # noqa: S608
        counters["pg_commits"] = float(self.backing.pg.query(sql))
        return counters

    def memory_kib(self) -> dict[str, int]:
        each = [proc_memory_kib(pid) for pid in self.pids.values()]
        return {"VmRSS": sum(m["VmRSS"] for m in each), "VmHWM": max(m["VmHWM"] for m in each)}

    def stop(self) -> None:
        for member in self.members:
            member.stop()
        self._log.close()


# -- output --------------------------------------------------------------------------------------


def per_process(r: Result) -> str:
    """CPU µs per delivered edit of each Pairpad process, owners (most updates accepted) first,
    with the share of the updates it accepted."""
    window, accepted = r.extra.get("window", {}), r.extra.get("accepted", {})
    deliveries = max(1, r.updates * max(1, r.extra["receivers"]))
    total = max(1, sum(accepted.values()))
    names = sorted((k[4:] for k in window if k.startswith("cpu:") and k[4:] in accepted),
                   key=lambda n: -accepted[n])
    return " / ".join(
        f"{1e6 * window[f'cpu:{n}'] / deliveries:.2f} ({100 * accepted[n] / total:.0f}%)"
        for n in names)


def row(r: Result) -> dict[str, Any]:
    window = r.extra.get("window", {})
    seconds = r.window_s
    updates = max(1, r.updates)
    pairpad = sum(v for k, v in window.items()
                  if k.startswith("cpu:") and k not in ("cpu:redis", "cpu:postgres"))
    return {
        "scenario": r.name, "store": r.extra["store"], "processes": r.extra["processes"],
        "clients": r.clients, "p50": r.latency_ms.get("p50"), "p95": r.latency_ms.get("p95"),
        "p99": r.latency_ms.get("p99"), "samples": r.samples, "expected": r.expected,
        "us_per_delivered": r.extra.get("cpu_us_per_delivered"),
        "pairpad_ms_per_edit": round(1000 * pairpad / updates, 3),
        "pairpad_cores": round(pairpad / seconds, 2),
        "per_process": per_process(r),
        "pg_ms_per_edit": round(1000 * window.get("cpu:postgres", 0) / updates, 3),
        "redis_ms_per_edit": round(1000 * window.get("cpu:redis", 0) / updates, 3),
        "redis_cmds_per_edit": round(window.get("redis_commands", 0) / updates, 2),
        "pg_commits_per_edit": round(window.get("pg_commits", 0) / updates, 2),
        "edits_per_s": round(r.updates / seconds, 1), "loadavg": round(r.machine_load, 1),
        "notes": "; ".join(r.notes),
    }


COLUMNS = [("scenario", "scenario"), ("store", "store"), ("processes", "procs"),
           ("clients", "clients"), ("edits_per_s", "edits/s"), ("p50", "p50 ms"),
           ("p95", "p95 ms"), ("p99", "p99 ms"), ("samples", "samples"),
           ("expected", "expected"), ("us_per_delivered", "all CPU µs/delivered edit"),
           ("per_process", "µs/delivered edit per process (share of updates accepted)"),
           ("pairpad_ms_per_edit", "Pairpad CPU ms/edit"), ("pairpad_cores", "Pairpad cores"),
           ("pg_ms_per_edit", "PostgreSQL CPU ms/edit"), ("redis_ms_per_edit",
                                                          "Redis CPU ms/edit"),
           ("redis_cmds_per_edit", "Redis cmds/edit"),
           ("pg_commits_per_edit", "PG commits/edit"), ("loadavg", "loadavg"),
           ("notes", "notes")]


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| " + " | ".join(title for _, title in COLUMNS) + " |",
           "|" + "---|" * len(COLUMNS)]
    for r in rows:
        out.append("| " + " | ".join(fmt(r[k]) if k in ("p50", "p95", "p99") else str(r[k])
                                     for k, _ in COLUMNS) + " |")
    return "\n".join(out)


def medians(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (scenario, store, processes, clients): the median of each number."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["scenario"], r["store"], r["processes"], r["clients"]), []).append(r)
    out = []
    for group in groups.values():
        merged = dict(group[0])
        for key, value in group[0].items():
            values = [g[key] for g in group if isinstance(g[key], (int, float))]
            if isinstance(value, (int, float)) and len(values) == len(group):
                merged[key] = round(statistics.median(values), 3)
        merged["per_process"] = " ; ".join(g["per_process"] for g in group)
        merged["notes"] = f"median of {len(group)}" + "".join(
            f"; {g['notes']}" for g in group if g["notes"])
        out.append(merged)
    return out


# -- the run -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench_cluster", description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=2, help="load-generator processes")
    p.add_argument("--processes", default="1,2,3", help="fanout: Pairpad processes per step")
    p.add_argument("--steps", default="250,500", help="fanout: authors in the one room")
    p.add_argument("--observers", type=int, default=3, help="fanout: clients timing arrivals")
    p.add_argument("--rooms", type=int, default=200, help="rooms: how many rooms")
    p.add_argument("--room-authors", type=int, default=5, help="rooms: authors per room")
    p.add_argument("--room-processes", default="1,3", help="rooms: Pairpad processes")
    p.add_argument("--confirm-processes", default="1,3", help="confirm: cluster processes")
    p.add_argument("--seconds", type=float, default=12.0, help="typing time per scenario")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds not measured")
    p.add_argument("--rounds", type=int, default=1, help="every scenario this many times")
    p.add_argument("--skip", default="", help="comma list of: fanout,rooms,confirm")
    p.add_argument("--fsync", action="store_true",
                   help="PostgreSQL with fsync=on (default off, as scripts/cluster runs it)")
    p.add_argument("--json", type=Path, help="write the rows here too")
    args = p.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    raise_fd_limit()
    print(f"machine: {machine()}", flush=True)
    rows: list[dict[str, Any]] = []
    common = {"duration": args.seconds, "warmup": args.warmup}
    workers = start_workers(args.workers)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp, ExitStack() as stack:
            workdir = Path(tmp)
            backing = Backing(stack.enter_context(running_postgres(fsync=args.fsync)),
                              stack.enter_context(running_redis()),
                              "fsync on" if args.fsync else "fsync off")

            def cluster(n: int) -> Starter:
                def start(env: dict[str, str]) -> Target:
                    return Cluster(backing, n, env, workdir)
                return start

            def run(result: Result, store: str, processes: int, receivers: int) -> None:
                result.extra.update(store=store, processes=processes, receivers=receivers)
                rows.append(row(result))
                print(table(rows[-1:]).splitlines()[-1], flush=True)

            pg = f"PostgreSQL ({backing.label}) + Redis"
            for _ in range(args.rounds):
                if "fanout" not in skip:
                    for authors in (int(s) for s in args.steps.split(",") if s):
                        for n in (int(s) for s in args.processes.split(",") if s):
                            run(peer_scenario(workers, workdir, protocol="pairpad",
                                              authors=authors, observers=args.observers,
                                              start=cluster(n), **common),
                                pg, n, authors + args.observers - 1)
                if "rooms" not in skip:
                    for n in (int(s) for s in args.room_processes.split(",") if s):
                        run(typing_scenario(workers, workdir, name="rooms",
                                            authors=args.room_authors, rooms=args.rooms,
                                            rate=1.0, deflate=False, measure="delivery",
                                            start=cluster(n), **common),
                            pg, n, args.room_authors - 1)
                if "confirm" not in skip:
                    def sqlite(env: dict[str, str]) -> Target:
                        return Server(env, workdir)
                    for store, n, start in [("SQLite", 1, sqlite)] + [
                            (pg, int(s), cluster(int(s)))
                            for s in args.confirm_processes.split(",") if s]:
                        run(typing_scenario(workers, workdir, name="confirm", authors=10,
                                            rate=10.0, deflate=False, measure="confirm",
                                            start=start, **common), store, n, 9)
    finally:
        stop_workers(workers)
    print()
    print(table(rows))
    if args.rounds > 1:
        print("\nmedians:\n")
        print(table(medians(rows)))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
