"""`scripts/bench_collab`: confirm latency, delivery latency as a room grows, deflate, idle RSS.

Every scenario starts its own server process (temporary database, log level warning, limits
raised as the scenario needs) on a free 127.0.0.1 port, drives it from `--workers` load
processes (scripts/collab_bench/worker.py), and stops it. Latencies are measured from the
instant a push is written to its socket; the measuring window skips the first `--warmup`
seconds of typing. CPU is read from /proc/PID/stat over that window, memory from
/proc/PID/status. Results go to stdout as a Markdown table and, with `--json`, to a file.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Protocol

from .worker import BUCKET_S, raise_fd_limit, worker_main

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"  # the benchmark never leaves this machine
TICK = os.sysconf("SC_CLK_TCK")
REPLY_TIMEOUT_S = 180.0


# -- the server under test -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def proc_run_wait_seconds(pid: int) -> float:
    """Time the process's threads spent runnable but waiting for a CPU (/proc/PID/schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


def proc_memory_kib(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def http_request(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None
    finally:
        conn.close()


def create_room(port: int) -> str:
    status, room = http_request(port, "POST", "/rooms", {"name": "bench", "code": ""})
    if status != 201:
        raise RuntimeError(f"POST /rooms answered {status}: {room}")
    return str(room["roomId"])


class OneProcess:
    """A server that is one process on one port: CPU, memory and a SIGTERM stop, read from
    /proc under `name`."""

    name = "server"
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def ports(self) -> list[int]:
        return [self.port]

    @property
    def pids(self) -> dict[str, int]:
        return {self.name: self.proc.pid}

    def snapshot(self) -> dict[str, float]:
        return {f"cpu:{self.name}": self.cpu_seconds()}

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.proc.pid)

    def memory_kib(self) -> dict[str, int]:
        return proc_memory_kib(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Server(OneProcess):
    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.port = free_port()
        self.log_path = workdir / f"server-{self.port}.log"
        full_env = {**os.environ, "PAIRPAD_LOG_LEVEL": "warning",
                    "PAIRPAD_ADMIN_TOKEN": "bench-admin-token", **env}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server", "--host", HOST, "--port", str(self.port),
                 "--db", str(workdir / f"bench-{self.port}.db")],
                cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT)
        self._wait_healthy(deadline_s=120.0)

    def _wait_healthy(self, deadline_s: float) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see "
                                   f"{self.log_path}")
            try:
                if self.request("GET", "/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)  # polling interval of a start-up deadline
        self.stop()
        raise TimeoutError(f"server not healthy within {deadline_s}s")

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return http_request(self.port, method, path, body)

    def create_room(self) -> str:
        return create_room(self.port)



class Target(Protocol):
    """What the Pairpad scenarios drive: one `Server`, or several processes of one deployment
    (scripts/collab_bench/cluster.py). Clients connect to `ports` round-robin."""

    @property
    def ports(self) -> list[int]: ...

    @property
    def pids(self) -> dict[str, int]: ...  # the Pairpad processes by name

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]: ...

    def create_room(self) -> str: ...

    def cpu_seconds(self) -> float: ...  # every Pairpad process together

    def snapshot(self) -> dict[str, float]: ...  # cumulative counters: "cpu:<name>", ...

    def memory_kib(self) -> dict[str, int]: ...

    def stop(self) -> None: ...


Starter = Callable[[dict[str, str]], Target]  # the server's environment -> a started target


def run_wait_seconds(target: Target | HocuspocusServer) -> float:
    return sum(proc_run_wait_seconds(pid) for pid in target.pids.values())


def metric_total(port: int, name: str) -> float:
    """The sum of a Prometheus counter's samples on one process (-1: not exposed)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    values = [float(line.split()[-1]) for line in text.splitlines()
              if line.startswith(name) and not line.startswith("#")]
    return sum(values) if values else -1.0


def record_costs(result: Result, target: Target, before: dict[str, float],
                 after: dict[str, float], receivers: int) -> None:
    """The window's counters (CPU seconds per process, ...) and, per process, the updates it
    accepted (the owners: relays accept none) into `result.extra`."""
    result.extra["window"] = {k: round(after[k] - before[k], 3) for k in after}
    result.extra["accepted"] = {
        name: int(metric_total(port, "pairpad_updates_accepted_total"))
        for name, port in zip(target.pids, target.ports, strict=True)}
    if result.updates:
        cpu = sum(v for k, v in result.extra["window"].items() if k.startswith("cpu:"))
        result.extra["cpu_us_per_delivered"] = round(
            1e6 * cpu / (result.updates * max(1, receivers)), 2)


class HocuspocusServer(OneProcess):
    """`@hocuspocus/server` 4.7.0 (scripts/collab_bench/hocuspocus/server.mjs) in its own Node
    process, installed on first use with `npm install --no-save` into that folder."""

    FOLDER = Path(__file__).resolve().parent / "hocuspocus"
    PACKAGE = "@hocuspocus/server@4.7.0"
    name = "hocuspocus"

    def __init__(self, workdir: Path) -> None:
        self.install()
        self.port = free_port()
        self.log_path = workdir / f"hocuspocus-{self.port}.log"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(["node", "server.mjs", str(self.port)], cwd=self.FOLDER,
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hocuspocus exited with {self.proc.returncode}; see "
                                   f"{self.log_path}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
                conn.request("GET", "/")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)  # polling interval of a start-up deadline
        self.stop()
        raise TimeoutError("hocuspocus did not answer within 60 s")

    @classmethod
    def install(cls) -> None:
        if (cls.FOLDER / "node_modules" / "@hocuspocus" / "server").exists():
            return
        subprocess.run(["npm", "install", "--no-save", "--no-package-lock", "--no-audit",
                        "--no-fund", cls.PACKAGE], cwd=cls.FOLDER, check=True)



# -- the load processes --------------------------------------------------------------------------


@dataclass
class Worker:
    process: BaseProcess
    pipe: Connection

    def ask(self, command: dict[str, Any]) -> None:
        self.pipe.send(command)

    def answer(self, within_s: float = REPLY_TIMEOUT_S) -> dict[str, Any]:
        if not self.pipe.poll(within_s):
            raise TimeoutError(f"worker {self.process.pid} did not answer in {within_s}s")
        reply: dict[str, Any] = self.pipe.recv()
        return reply

    def cpu_seconds(self) -> float:
        assert self.process.pid is not None
        return proc_cpu_seconds(self.process.pid)


def start_workers(count: int) -> list[Worker]:
    context = multiprocessing.get_context("spawn")
    workers = []
    for _ in range(count):
        parent, child = context.Pipe()
        process = context.Process(target=worker_main, args=(child,), daemon=True)
        process.start()
        workers.append(Worker(process, parent))
    return workers


def stop_workers(workers: list[Worker]) -> None:
    for worker in workers:
        worker.ask({"cmd": "exit"})
    for worker in workers:
        worker.process.join(timeout=10)
        if worker.process.is_alive():
            worker.process.terminate()


def ask_all(workers: list[Worker], commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for worker, command in zip(workers, commands, strict=True):
        worker.ask(command)
    return [worker.answer() for worker in workers]


# -- statistics ----------------------------------------------------------------------------------


Cpu = tuple[float, float, float]


def percentile_ms(histogram: Counter[int], q: float) -> float | None:
    """The `q` quantile (0..1) of a 0.1 ms histogram, as the upper edge of its bucket."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return (index + 1) * BUCKET_S * 1000
    return None


def merge(replies: list[dict[str, Any]], key: str) -> Counter[int]:
    total: Counter[int] = Counter()
    for reply in replies:
        total.update({int(k): v for k, v in reply[key].items()})
    return total


@dataclass
class Result:
    name: str
    authors: int
    clients: int
    rate: float
    deflate: bool
    window_s: float
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    samples: int = 0
    expected: int = 0
    updates: int = 0
    server_cpu: float = 0.0  # share of one core over the window
    load_cpu: float = 0.0  # all load processes together, share of one core
    server_wait: float = 0.0  # runnable but not running (CPU taken by others), share of time
    machine_load: float = 0.0  # 1-minute load average at the end of the window
    rss_mib: float = 0.0
    hwm_mib: float = 0.0
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def take_cpu(self, start: Cpu, end: Cpu, seconds: float) -> None:
        """Shares of one core over a window of `seconds` (see `run_window`)."""
        self.server_cpu = (end[0] - start[0]) / seconds
        self.load_cpu = (end[1] - start[1]) / seconds
        self.server_wait = (end[2] - start[2]) / seconds

    def take_latency(self, histogram: Counter[int]) -> None:
        """p50/p95/p99/max and the sample count of a merged latency histogram."""
        self.latency_ms = {f"p{q}": percentile_ms(histogram, q / 100) for q in (50, 95, 99)}
        self.latency_ms["max"] = percentile_ms(histogram, 1.0)
        self.samples = sum(histogram.values())


# -- scenarios -----------------------------------------------------------------------------------


def split(items: list[Any], parts: int) -> list[list[Any]]:
    return [items[i::parts] for i in range(parts)]


def join_phases(clients: list[Any], authors: int, observers: int) -> list[list[Any]]:
    """The order clients join in (`clients`: the authors, then the observers), as groups each
    joined only once the one before is in: every observer alone, at evenly spread places
    among the authors. Both servers write a broadcast to their sockets in join order, a few
    µs each, so where an observer joined adds up to a millisecond at 250 authors; spread, the
    observers see what the room's average member sees, the same in every run."""
    cuts = [authors * (k + 1) // (observers + 1) for k in range(observers)]
    phases, start = [], 0
    for k, cut in enumerate(cuts):
        phases += [clients[start:cut], [clients[authors + k]]]
        start = cut
    phases.append(clients[start:authors])
    return [phase for phase in phases if phase]


def run_window(server: Any, workers: list[Worker], profile: Path | None, rate: float,
               warmup: float, duration: float,
               ) -> tuple[Any, tuple[Cpu, dict[str, float]], tuple[Cpu, dict[str, float]]]:
    """Start every worker typing at `rate`, profile the measured window if asked, and read the
    CPU (server, load generator, server's run-queue wait) and counters at its two ends."""
    t0 = time.monotonic() + 0.5
    lo, hi = t0 + warmup, t0 + duration
    for index, worker in enumerate(workers):
        worker.ask({"cmd": "run", "t0": t0, "duration": duration, "rate": rate,
                    "lo": lo, "hi": hi, "seed": index})
    spy = (start_profile(server, profile, lo, hi - lo)
           if profile and isinstance(server, Server) else None)
    ends = []
    for moment in (lo, hi):
        wait_until(moment)
        ends.append(((server.cpu_seconds(), sum(w.cpu_seconds() for w in workers),
                      run_wait_seconds(server)), server.snapshot()))
    return spy, ends[0], ends[1]


def typing_scenario(workers: list[Worker], workdir: Path, *, name: str, authors: int,
                    rate: float, duration: float, warmup: float, deflate: bool,
                    measure: str, profile: Path | None = None, rooms: int = 1,
                    start: Starter | None = None) -> Result:
    """`rooms` rooms of `authors` editors each typing `rate` edits a second for `duration`
    seconds, on a `Server` of its own or on what `start` starts."""
    server = (start or (lambda env: Server(env, workdir)))(
        {"PAIRPAD_MAX_PARTICIPANTS": str(max(100, authors + 10)),
         "PAIRPAD_MESSAGES_PER_SECOND": str(max(100.0, rate * 20)),
         "PAIRPAD_PER_MESSAGE_DEFLATE": "true" if deflate else "false"})
    result = Result(name, authors, authors * rooms, rate, deflate, duration - warmup)
    try:
        room_ids = [server.create_room() for _ in range(rooms)]
        clients = [(i, room_ids[i // authors], f"a{i}", True) for i in range(authors * rooms)]
        replies = ask_all(workers, [
            {"cmd": "connect", "host": HOST, "ports": server.ports, "deflate": deflate,
             "base_length": 0, "clients": part,
             "participants": dict.fromkeys(room_ids, authors),
             "timeout": 120.0} for part in split(clients, len(workers))])
        result.extra["connect_s"] = round(max(r["seconds"] for r in replies), 1)
        if any(r["failed"] or r["incomplete"] for r in replies):
            result.notes.append(f"connect: {replies}")
        spy, (cpu0, snap0), (cpu1, snap1) = run_window(server, workers, profile, rate,
                                                       warmup, duration)
        made_by_room: Counter[str] = Counter()
        for worker in workers:
            made_by_room.update(worker.answer()["made_by_room"])
        final = {room: made_by_room[room] for room in room_ids}
        drained = ask_all(workers, [{"cmd": "drain", "final": final, "timeout": 30.0}
                                    for _ in workers])
        if spy is not None:
            spy.wait(timeout=60)
        try:
            for room in room_ids:
                _, state = server.request("GET", f"/rooms/{room}")
                if state["version"] != final[room]:
                    result.notes.append(f"room at version {state['version']}, "
                                        f"{final[room]} edits made")
        except TimeoutError:
            result.notes.append("GET /rooms/{id} timed out after the drain (server backlog)")
        histogram = merge(drained, "confirm" if measure == "confirm" else "delivery")
        result.take_latency(histogram)
        updates = sum(r["updates_in_window"] for r in drained)
        result.updates = updates
        result.expected = (sum(r["pushes_in_window"] for r in drained) if measure == "confirm"
                           else updates * (authors - 1))
        record_costs(result, server, snap0, snap1, receivers=authors - 1)
        result.take_cpu(cpu0, cpu1, duration - warmup)
        result.machine_load = os.getloadavg()[0]
        memory = server.memory_kib()
        result.rss_mib, result.hwm_mib = memory["VmRSS"] / 1024, memory["VmHWM"] / 1024
        behind = sum(r["behind"] for r in drained)
        errors = sum((Counter(r["errors"]) for r in drained), Counter())
        closed = sum((Counter(r["closed"]) for r in drained), Counter())
        out_of_order = sum(r["out_of_order"] for r in drained)
        for label, value in (("behind at the end", behind), ("errors", dict(errors)),
                             ("closed early", dict(closed)), ("out of order", out_of_order)):
            if value:
                result.notes.append(f"{label}: {value}")
        if updates:
            # CPU per edit (its push, rebase, commit and fan-out to every peer): less sensitive
            # to the neighbours' load than latency is, as long as the server keeps up.
            result.extra["server_cpu_ms_per_edit"] = round(
                1000 * (cpu1[0] - cpu0[0]) / updates, 3)
        result.extra["frames_in"] = sum(r["frames_in"] for r in drained)
        result.extra["mb_in"] = round(sum(r["bytes_in"] for r in drained) / 1e6, 1)
        ask_all(workers, [{"cmd": "close"} for _ in workers])
    finally:
        server.stop()
    return result


def peer_scenario(workers: list[Worker], workdir: Path, *, protocol: str, authors: int,
                  observers: int, duration: float, warmup: float,
                  profile: Path | None = None, start: Starter | None = None,
                  observers_apart: bool = False) -> Result:
    """The fan-out issue's workload on `protocol` ("pairpad" or "hocuspocus"): `authors` each
    type a 13-character token a second at a random place; `observers` type nothing and time
    each token from its push to its arrival. CPU per delivered edit = server CPU over the
    window / (updates in the window x receivers), receivers = every other client. With
    `start`, Pairpad is what it starts (e.g. several processes, clients round-robin)."""
    clients_n = authors + observers
    server: Target | HocuspocusServer
    if protocol == "pairpad":
        server = (start or (lambda env: Server(env, workdir)))(
            {"PAIRPAD_MAX_PARTICIPANTS": str(max(100, clients_n + 10)),
             "PAIRPAD_MESSAGES_PER_SECOND": "100", "PAIRPAD_PER_MESSAGE_DEFLATE": "false"})
    else:
        server = HocuspocusServer(workdir)
    result = Result(protocol, authors, clients_n, 1.0, False, duration - warmup)
    try:
        room = server.create_room() if not isinstance(server, HocuspocusServer) else "bench"
        clients = [(i, room, f"a{i}", i < authors) for i in range(clients_n)]
        if observers_apart:
            # The observers get a worker of their own: what they time is the server's delivery,
            # not the load generator's own queue behind the authors' frames.
            parts = [clients[authors:], *split(clients[:authors], len(workers) - 1)]
        else:
            parts = split(clients, len(workers))
        worker_of = {client[0]: index for index, part in enumerate(parts) for client in part}
        joined, connect_s = 0, 0.0
        for number, phase in enumerate(join_phases(clients, authors, observers)):
            joined += len(phase)
            replies = ask_all(workers, [
                {"cmd": "connect", "host": HOST, "ports": server.ports, "deflate": False,
                 "base_length": 0, "clients": [c for c in phase if worker_of[c[0]] == index],
                 "participants": {room: joined}, "timeout": 120.0, "protocol": protocol,
                 "workload": "token", "seed": index, "more": number > 0}
                for index in range(len(workers))])
            connect_s += max(r["seconds"] for r in replies)
            if any(r["failed"] or r["incomplete"] for r in replies):
                result.notes.append(f"connect: {replies}")
        result.extra["connect_s"] = round(connect_s, 1)
        spy, (cpu0, snap0), (cpu1, snap1) = run_window(server, workers, profile, 1.0,
                                                       warmup, duration)
        memory = server.memory_kib()
        made = sum(w.answer()["made"] for w in workers)
        drained = ask_all(workers, [{"cmd": "drain", "final": {room: made}, "timeout": 30.0}
                                    for _ in workers])
        if spy is not None:
            spy.wait(timeout=60)
        if not isinstance(server, HocuspocusServer):
            # Frames queued to peers (before a lagging peer's code_updates are merged) over
            # frames the clients received: how much merging saved.
            result.extra["frames_queued"] = int(sum(
                metric_total(port, "pairpad_ws_frames_sent_total") for port in server.ports))
            result.extra["frames_in"] = sum(r["frames_in"] for r in drained)
            result.notes.append(f"frames queued {result.extra['frames_queued']}, received "
                                f"{result.extra['frames_in']}")
        histogram = merge(drained, "delivery")
        result.take_latency(histogram)
        result.updates = sum(r["updates_in_window"] for r in drained)
        result.expected = result.updates * observers
        result.take_cpu(cpu0, cpu1, duration - warmup)
        result.machine_load = os.getloadavg()[0]
        result.rss_mib, result.hwm_mib = memory["VmRSS"] / 1024, memory["VmHWM"] / 1024
        if not isinstance(server, HocuspocusServer):
            record_costs(result, server, snap0, snap1, receivers=clients_n - 1)
        elif result.updates:
            result.extra["cpu_us_per_delivered"] = round(
                1e6 * (cpu1[0] - cpu0[0]) / (result.updates * (clients_n - 1)), 2)
        # Frames each client received per edit made (the whole run, joins included).
        result.extra["frames_per_edit"] = round(
            sum(r["frames_in"] for r in drained) / max(1, made) / clients_n, 2)
        behind = sum(r["behind"] for r in drained)
        errors = sum((Counter(r["errors"]) for r in drained), Counter())
        closed = sum((Counter(r["closed"]) for r in drained), Counter())
        for label, value in (("behind at the end", behind), ("errors", dict(errors)),
                             ("closed early", dict(closed))):
            if value:
                result.notes.append(f"{label}: {value}")
        ask_all(workers, [{"cmd": "close"} for _ in workers])
    finally:
        server.stop()
    return result


def peer_table(results: list[Result]) -> str:
    rows = ["| authors | server | p50 ms | p95 ms | p99 ms | samples/expected | server CPU | "
            "run-queue wait | CPU µs per delivered edit | frames/edit/client | load CPU | "
            "loadavg | RSS MiB | notes |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        lat = r.latency_ms
        rows.append(
            f"| {r.authors} | {r.name} | {fmt(lat.get('p50'))} | {fmt(lat.get('p95'))} | "
            f"{fmt(lat.get('p99'))} | {r.samples}/{r.expected} | {100 * r.server_cpu:.0f}% | "
            f"{100 * r.server_wait:.0f}% | {r.extra.get('cpu_us_per_delivered', '—')} | "
            f"{r.extra.get('frames_per_edit', '—')} | "
            f"{100 * r.load_cpu:.0f}% | "
            f"{r.machine_load:.1f} | {r.rss_mib:.0f} | {'; '.join(r.notes)} |")
    return "\n".join(rows)


def idle_scenario(workers: list[Worker], workdir: Path, *, connections: int,
                  per_room: int) -> Result:
    """`connections` idle editors in rooms of `per_room` (the default participants limit)."""
    server = Server({}, workdir)
    result = Result("idle", 0, connections, 0.0, False, 0.0)
    try:
        rooms = [server.create_room() for _ in range(connections // per_room)]
        result.extra["rss_before_mib"] = round(server.memory_kib()["VmRSS"] / 1024, 1)
        clients = [(i, rooms[i // per_room], f"i{i}", False)
                   for i in range(per_room * len(rooms))]
        started = time.monotonic()
        replies = ask_all(workers, [
            {"cmd": "connect", "host": HOST, "ports": server.ports, "deflate": False,
             "base_length": 0, "clients": part, "participants": dict.fromkeys(rooms, per_room),
             "timeout": 240.0} for part in split(clients, len(workers))])
        result.extra["connect_s"] = round(time.monotonic() - started, 1)
        if any(r["failed"] or r["incomplete"] for r in replies):
            result.notes.append(f"connect: {replies}")
        _, health = server.request("GET", "/health")
        result.extra["server_connections"] = health.get("connections")
        memory = server.memory_kib()
        result.rss_mib, result.hwm_mib = memory["VmRSS"] / 1024, memory["VmHWM"] / 1024
        result.extra["kib_per_connection"] = round(
            (memory["VmRSS"] - result.extra["rss_before_mib"] * 1024) / len(clients), 1)
        ask_all(workers, [{"cmd": "close"} for _ in workers])
    finally:
        server.stop()
    return result


def wait_until(instant: float) -> None:
    delay = instant - time.monotonic()
    if delay > 0:
        time.sleep(delay)  # the orchestrator's schedule: sample CPU at the window's edges


# -- profiling -----------------------------------------------------------------------------------


PROFILE_ARGS = ["--nonblocking"]  # --profile-args: py-spy options (e.g. "--gil")


def start_profile(server: Server, out: Path, at: float, seconds: float,
                  ) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("py-spy is not installed (.venv/bin/pip install py-spy); not profiling")
        return None
    wait_until(at)
    return subprocess.Popen([spy, "record", "--pid", str(server.proc.pid), "--duration",
                             str(int(seconds)), "--rate", "200", "--format", "raw", "--output",
                             str(out), *PROFILE_ARGS],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# Where a sample goes: the first of these functions found on its stack, innermost first.
PHASES = [
    ("rebase: Authority.push (editor_core/authority.py)", "Authority.push "),
    ("fan-out: Connection._sender (server/connection.py)", "Connection._sender "),
    ("publish: Room._publish (server/room.py)", "Room._publish "),
    ("store thread: aiosqlite", "_connection_worker_thread "),
    ("store: Store (server/store.py)", "(server/store.py)"),
    ("receive: rest of _receive_loop (server/ws.py)", "_receive_loop "),
    ("uvicorn/websockets protocol (frames in)", "data_received "),
    ("event loop: select (idle)", "EpollSelector.select "),
]


def summarize_profile(path: Path, top: int = 15) -> str:
    """Phases, then self and inclusive time per function, from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = [f.split(" (", 1)[0] + " " + _where(f) for f in stack.split(";")]
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
        phase = "other"
        for label, marker in PHASES:
            if any(marker in frame for frame in frames):
                phase = label
                break
        phases[phase] += count
    if not total:
        return "no samples"
    lines = [f"{total} samples", "phases:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in phases.most_common()]
    lines.append("self:")
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    lines.append("inclusive:")
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top * 3)]
    return "\n".join(lines)


def _where(frame: str) -> str:
    inner = frame.split(" (", 1)[1].rstrip(")") if " (" in frame else ""
    path = inner.rsplit(":", 1)[0]
    for marker in ("/site-packages/", "/work/main/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"({path})"


# -- output --------------------------------------------------------------------------------------


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def table(results: list[Result]) -> str:
    rows = ["| scenario | authors | edits/s | deflate | p50 ms | p95 ms | p99 ms | max ms | "
            "samples/expected | server CPU | server run-queue wait | CPU ms/edit | load CPU | "
            "loadavg | server RSS MiB | notes |",
            "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        if r.name == "idle":
            rows.append(
                f"| idle: {r.clients} connections | — | — | off |" + " — |" * 10 + " "
                f"{r.rss_mib:.0f} (before {r.extra['rss_before_mib']:.0f}; "
                f"{r.extra['kib_per_connection']} KiB/conn) | connect {r.extra['connect_s']} s; "
                f"{'; '.join(r.notes)} |")
            continue
        lat = r.latency_ms
        rows.append(
            f"| {r.name} | {r.authors} | {r.authors * r.rate:.0f} | "
            f"{'on' if r.deflate else 'off'} | {fmt(lat.get('p50'))} | {fmt(lat.get('p95'))} | "
            f"{fmt(lat.get('p99'))} | {fmt(lat.get('max'))} | {r.samples}/{r.expected} | "
            f"{100 * r.server_cpu:.0f}% | {100 * r.server_wait:.0f}% | "
            f"{r.extra.get('server_cpu_ms_per_edit', '—')} | "
            f"{100 * r.load_cpu:.0f}% | {r.machine_load:.1f} | {r.rss_mib:.0f} | "
            f"{'; '.join(r.notes)} |")
    return "\n".join(rows)


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    load = os.getloadavg()
    return (f"{os.cpu_count()} cores ({model}), shared; load average at start "
            f"{load[0]:.1f}; Python {sys.version.split()[0]}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench_collab", description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=2, help="load-generator processes")
    p.add_argument("--steps", default="50,100,250,500", help="authors per delivery step")
    p.add_argument("--seconds", type=float, default=12.0, help="typing time per scenario")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds not measured")
    p.add_argument("--idle", type=int, default=5000, help="idle connections (0: skip)")
    p.add_argument("--per-room", type=int, default=100, help="idle connections per room")
    p.add_argument("--skip", default="", help="comma list of: confirm,delivery,deflate,idle")
    p.add_argument("--profile", default="",
                   help="comma list of delivery steps (authors) to py-spy the server during")
    p.add_argument("--profile-dir", type=Path, default=Path(tempfile.gettempdir()),
                   help="where py-spy's raw profiles are kept")
    p.add_argument("--profile-args", default="--nonblocking",
                   help="py-spy record options, e.g. '--nonblocking --gil' (GIL holder only)")
    p.add_argument("--deflate-rounds", type=int, default=1,
                   help="100-author pairs run back to back: deflate off, then on")
    p.add_argument("--peer", choices=["hocuspocus"],
                   help="only the side-by-side comparison with this peer server, at --steps "
                        "(the fan-out issue's workload: 13-character tokens at random places, "
                        "--observers timing them); --rounds pairs per step")
    p.add_argument("--observers", type=int, default=3, help="--peer: clients timing arrivals")
    p.add_argument("--observers-apart", action="store_true",
                   help="--peer: the observers in a load-generator process of their own")
    p.add_argument("--rounds", type=int, default=1,
                   help="--peer: pairs per step (the order alternates between rounds)")
    p.add_argument("--json", type=Path, help="write the results here too")
    args = p.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    PROFILE_ARGS[:] = args.profile_args.split()
    raise_fd_limit()  # inherited by the server process too
    print(f"machine: {machine()}", flush=True)
    if args.peer:
        return peer_main(args)
    workers = start_workers(args.workers)
    results: list[Result] = []
    profiles: dict[str, str] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-collab-") as tmp:
            workdir = Path(tmp)
            common = {"duration": args.seconds, "warmup": args.warmup}

            def run(result: Result) -> None:
                results.append(result)
                print(table([result]).splitlines()[-1], flush=True)

            if "confirm" not in skip:
                run(typing_scenario(workers, workdir, name="confirm", authors=10, rate=10.0,
                                    deflate=False, measure="confirm", **common))
            if "delivery" not in skip:
                for authors in (int(s) for s in args.steps.split(",") if s):
                    profile = (args.profile_dir / f"profile-{authors}.txt"
                               if str(authors) in args.profile.split(",") else None)
                    run(typing_scenario(workers, workdir, name="delivery", authors=authors,
                                        rate=1.0, deflate=False, measure="delivery",
                                        profile=profile, **common))
                    if profile is not None and profile.exists():
                        profiles[str(authors)] = summarize_profile(profile)
                        print(profiles[str(authors)], flush=True)
            if "deflate" not in skip:
                for _ in range(args.deflate_rounds):
                    for deflate in (False, True):
                        run(typing_scenario(workers, workdir, name="deflate A/B", authors=100,
                                            rate=1.0, deflate=deflate, measure="delivery",
                                            **common))
            if args.idle and "idle" not in skip:
                run(idle_scenario(workers, workdir, connections=args.idle,
                                  per_room=args.per_room))
    finally:
        stop_workers(workers)
    print()
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "profiles": profiles,
                                         "results": [r.__dict__ for r in results]}, indent=2))
    return 0


def peer_main(args: argparse.Namespace) -> int:
    """`--peer`: Pairpad and the peer, same workload, back to back at each step."""
    HocuspocusServer.install()
    workers = start_workers(args.workers + (1 if args.observers_apart else 0))
    results: list[Result] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-collab-") as tmp:
            for round_ in range(args.rounds):
                for authors in (int(s) for s in args.steps.split(",") if s):
                    order = ["pairpad", args.peer][:: 1 if round_ % 2 == 0 else -1]
                    profile = (args.profile_dir / f"profile-peer-{authors}-{round_}.txt"
                               if str(authors) in args.profile.split(",") else None)
                    for protocol in order:
                        results.append(peer_scenario(
                            workers, Path(tmp), protocol=protocol, authors=authors,
                            observers=args.observers, duration=args.seconds,
                            warmup=args.warmup, profile=profile,
                            observers_apart=args.observers_apart))
                        print(peer_table(results[-1:]).splitlines()[-1], flush=True)
                    if profile is not None and profile.exists():
                        print(summarize_profile(profile), flush=True)
    finally:
        stop_workers(workers)
    print()
    print(peer_table(sorted(results, key=lambda r: (r.authors, r.name))))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(),
                                         "results": [r.__dict__ for r in results]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
