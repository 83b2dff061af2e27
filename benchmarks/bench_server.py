"""Server budgets, measured against real ``airfoil server start`` processes on PostgreSQL.

1. Launch-to-first-task-start latency: ``POST .../executions`` of a one-task workflow until
   its attempt starts in a worker (the attempt's ``started_at``, same host clock); median of
   ``--launches`` sequential launches after warm-up. Budget: under 100 ms.
2. Engine throughput: ``--executions`` concurrent executions of a fan-out workflow (``--width``
   trivial tasks and one reducer each), from the first launch to the last execution ending;
   trivial tasks per second, median of ``--repeat`` rounds on the same server. Budget: at
   least 500/s (an earlier issue's); issue 17's goal, printed beside it: at least 2,000/s with
   40 concurrent executions (the defaults).
3. API latency: p50/p99 of ``GET`` execution detail of a 1,000-node execution over
   ``--requests`` requests. Budget: p99 under 100 ms.
4. API latency under load: while each throughput round runs, a prober process sends ``GET``
   execution detail (of an execution of the round) and ``GET`` execution list, one every
   ``--probe-every`` seconds; p50/p99 per round (``--prober-in-process``: from a thread of
   the benchmark's process, as before, where a probe also waited behind the launching and
   waiting client for the GIL and a core). The first round runs on a freshly started
   server (cold: nothing kept, first connections), the later ones warm. Budget: p99 under
   100 ms.

Each round also prints where the machine's CPU went: seconds of CPU per task of the server
(its API process and, where the server runs its driver slots in a process of their own, that
engine process, each also on its own), of its worker processes, of the PostgreSQL backends
serving the server's connections (both processes'; and apart, PostgreSQL's own processes:
WAL writer, checkpointer, background writer, autovacuum, every database's), of this
benchmark's own process (the client launching and waiting: on the same cores as the
server; and with ``--prober-in-process`` the prober), of the prober's process, the rest
(the kernel's threads and other users) and the machine's total (everything busy: not idle,
iowait or steal) beside the round's wall time. The prober's process is started before the
round's first snapshot and ends after its last (its start, an interpreter and its imports,
is ~0.23 s of CPU: before, it counted in the rest as ~0.06 ms a task), and a snapshot reads
every process and the machine in one go, so the groups and the rest add up to the machine
over the same span; the requests the round sent to the API by
kind (launches, the waiting client's event pages, execution details, probes); and per task
the rows of the bench's ``executions`` table updated (the execution's record writes and
the lease traffic), rows updated and inserted in all its tables, the dead rows they hold at the
round's end, WAL bytes (the cluster's insert position: other users' writes count too), and
the database's commits (``pg_stat_database``:
the API's reads and other users of that database included; point ``AIRFOIL_BENCH_PG_URL``
at a database of its own to leave others out). ``--rest-top N`` also prints what the rest
was, in ms a task: the kernel's time outside any process (interrupts, soft interrupts), the
N processes outside those groups that used the most CPU in the round, the processes that
ended in the round by the parent that reaped them, the pids handed out, and what none of
these explain (the ticks' rounding: should be ~0).

``--wal-dir DIR`` (the PostgreSQL server's ``pg_wal`` directory, readable here; ``pg_waldump``
on the path or named by ``--pg-waldump``) adds per round the WAL bytes per task that the
benchmark's own database wrote, per table (indexes and TOAST included) and in commit
records: other databases' writes are left out, which the cluster-wide figure counts.

``--probes-out FILE`` appends each round's probe latencies (one JSON line per round, cold
or warm), so that the p99 of many rounds of several invocations can be taken together (a
round's ~150-250 probes make its own p99 about its second or third worst probe).

``--profile DIR`` runs the server under ``_profiled_server.py`` (every thread under
cProfile, statements counted): ``DIR/threads.prof`` and ``DIR/statements.json`` are written
when the server stops. Profiled rates are slower; read them as proportions.

    PYTHONPATH=src python benchmarks/bench_server.py [--launches 30 --executions 40 --width 100]
        [--only throughput] [--profile DIR]

PostgreSQL: ``AIRFOIL_BENCH_PG_URL`` (default the test server); each run uses a fresh schema,
dropped at the end. ``AIRFOIL_BENCH_PG_OPTIONS=-csynchronous_commit%3Doff`` shows how much of
the throughput figure is the database's commit latency (diagnostic only: not a durable setup).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from _cpu_split import Cpu, print_rest
from _prober import probe_loop

PG_URL = os.environ.get("AIRFOIL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

FLOW = textwrap.dedent(
    """
    import airfoil as af

    @af.task
    def noop(x: int) -> int:
        return x

    @af.task
    def inc(x: int) -> int:
        return x + 1

    @af.task
    def total(xs: list[int]) -> int:
        return sum(xs)

    @af.workflow
    def one(x: int = 1) -> int:
        return noop(x=x)

    @af.workflow
    def fan(x: int = 0) -> int:
        return total(xs=[inc(x=i) for i in range(WIDTH)])

    @af.workflow
    def big(x: int = 0) -> int:
        return total(xs=[inc(x=i) for i in range(999)])
    """
)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(
    tmp: Path,
    db: str,
    slots: int,
    max_parallel: int | None,
    profile: str | None,
    trace: str | None,
    worker_nice: int | None = None,
    workers: int | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    env = dict(os.environ, AIRFOIL_HOME=str(tmp / "home"), AIRFOIL_PACKAGE_CACHE=str(tmp / "pk"))
    entry = ["-m", "airfoil.cli"]
    if profile:
        os.makedirs(profile, exist_ok=True)
        env["AIRFOIL_PROFILE_DIR"] = os.path.abspath(profile)
        entry = [str(Path(__file__).with_name("_profiled_server.py"))]
    elif trace:
        env["AIRFOIL_TRACE_FILE"] = os.path.abspath(trace)
        entry = [str(Path(__file__).with_name("_traced_server.py"))]
    proc = subprocess.Popen(
        [
            sys.executable,
            *entry,
            "server",
            "start",
            "--port",
            str(port),
            "--database-url",
            db,
            "--slots",
            str(slots),
            *(("--max-parallel", str(max_parallel)) if max_parallel else ()),
            *(("--worker-nice", str(worker_nice)) if worker_nice is not None else ()),
            *(("--workers", str(workers)) if workers is not None else ()),
        ],
        env=env,
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "server.log", "wb"),  # noqa: SIM115
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not start: " + (tmp / "server.log").read_text())


def _launch_latency(client: Any, n: int) -> list[float]:
    out = []
    for i in range(n + 3):
        t0 = time.time()
        ex = client.launch("flow.one", {"x": i})
        started = None
        while started is None:
            nodes = client.get(ex.id).nodes
            if nodes and nodes[0].attempt_list:
                started = nodes[0].attempt_list[0].started_at
            else:
                time.sleep(0.005)
        client.wait(ex.id, poll_s=0.01)
        if i >= 3:  # warm-up: workers started, code package unpacked
            out.append(started - t0)
    return out


@contextlib.contextmanager
def bench_schema() -> Iterator[tuple[sa.Engine, str, str]]:
    """A fresh PostgreSQL schema for one benchmark, dropped at the end: ``(admin engine,
    schema, the server's URL)``, the URL confined to the schema and naming its connections
    after it (``application_name``, see :func:`server_backends`)."""
    admin = sa.create_engine(PG_URL, poolclass=sa.pool.NullPool)
    schema = f"airfoil_bench_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    db = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    try:
        yield admin, schema, f"{db}&application_name={schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def server_backends(admin: sa.Engine, tag: str, role: str | None = None) -> list[int]:
    """PostgreSQL backend pids of the server started with ``application_name=tag`` in its
    URL: it names its connections ``tag-api`` and ``tag-engine`` (``role``: those alone), a
    tree from before that ``tag``. Found by name, so over a Unix socket too (no ports)."""
    with admin.connect() as conn:
        found = conn.execute(
            sa.text(
                "SELECT pid, application_name FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
            )
        )
        names = {f"{tag}-{role}"} if role else {tag, f"{tag}-api", f"{tag}-engine"}
        return [int(pid) for pid, name in found if name in names]


class _Prober:
    """GETs execution detail and the execution list while a round runs; their latencies.

    In a process of its own (``in_process=False``, the default): in the benchmark's process
    a probe's time also counted that process's own waits for the GIL and a core behind the
    launching and waiting client (8 of 61 slow probes, the worst 315 ms, traced by helper
    srvlat); ``in_process=True`` keeps the earlier thread, to compare the two measurements.
    """

    def __init__(self, client: Any, every_s: float, in_process: bool = False) -> None:
        import multiprocessing

        self.base = f"{client.url}/api/v1/projects/{client.project}/executions"
        self.every_s = every_s
        self.in_process = in_process
        #: (probe number, its time.time() at sending, its latency) of each probe
        self.probes: list[tuple[str, float, float]] = []
        tag = uuid.uuid4().hex[:8]
        if in_process:
            import queue

            self._target = ""
            self._stop: Any = threading.Event()
            self._ready: Any = threading.Event()
            self._out: Any = queue.Queue()
            args = (self.base, every_s, lambda: self._target, self._ready, self._stop)
            self._runner: Any = threading.Thread(
                target=probe_loop, args=(*args, self._out, tag), daemon=True
            )
        else:
            ctx = multiprocessing.get_context("spawn")
            self._shared = ctx.Array("c", 64)
            self._stop = ctx.Event()
            self._ready = ctx.Event()
            self._out = ctx.Queue()
            args = (self.base, every_s, self._shared, self._ready, self._stop, self._out, tag)
            self._runner = ctx.Process(target=probe_loop, args=args, daemon=True)

    @property
    def pid(self) -> int | None:
        """The prober's process (None in process: counted in the benchmark's)."""
        return None if self.in_process else int(self._runner.pid)

    @property
    def target(self) -> str:
        return self._target if self.in_process else self._shared.value.decode()

    @target.setter
    def target(self, execution_id: str) -> None:
        if self.in_process:
            self._target = execution_id
        else:
            self._shared.value = execution_id.encode()

    def start(self) -> None:
        """Start probing; returns once the prober's first request was answered."""
        self._runner.start()
        if not self._ready.wait(120):
            raise SystemExit("the prober did not start")

    def finish(self) -> None:
        self._stop.set()
        probes = self._out.get(timeout=120)
        self._runner.join(30)
        self.probes = [tuple(p) for p in probes]  # type: ignore[misc]


def _throughput(
    client: Any, executions: int, width: int, prober: _Prober
) -> tuple[float, int, dict[str, int]]:
    """One round, ``prober`` (started) probing: its time, its tasks and the requests the
    round sent by kind (the client's launches, event pages and details; the probes are
    counted when the prober finishes)."""
    sent: dict[str, int] = {}

    def count(request: httpx.Request) -> None:
        kind = "launch" if request.method == "POST" else request.url.path.rsplit("/", 1)[-1]
        kind = kind if kind in ("launch", "events") else "detail"
        sent[kind] = sent.get(kind, 0) + 1

    client._http.event_hooks = {"request": [count]}
    t0 = time.perf_counter()
    ids = []
    for i in range(executions):
        ids.append(client.launch("flow.fan", {"x": i}).id)
        prober.target = ids[len(ids) // 2]
    for i in ids:
        d = client.wait(i, poll_s=0.05, timeout=600)
        assert d.phase == "succeeded", d.error
    took = time.perf_counter() - t0
    client._http.event_hooks = {"request": []}
    return took, executions * (width + 1), sent


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _detail_latency(client: Any, requests: int) -> tuple[list[float], int]:
    ex = client.launch("flow.big", {})
    events = f"{client.url}/api/v1/projects/{client.project}/executions/{ex.id}/events"
    while httpx.get(events, params={"after": 10**9}).json()["phase"] != "succeeded":
        time.sleep(0.2)  # (not client.wait: its final GET would warm the detail up)
    url = f"{client.url}/api/v1/projects/{client.project}/executions/{ex.id}"
    samples = []
    with httpx.Client() as http:
        t0 = time.perf_counter()
        http.get(url)
        cold = time.perf_counter() - t0
        print(f"execution detail, first request (nothing kept yet): {cold * 1000:.1f} ms")
        for _ in range(5):
            http.get(url)
        for _ in range(requests):
            t0 = time.perf_counter()
            r = http.get(url)
            samples.append(time.perf_counter() - t0)
            assert r.status_code == 200
    return samples, len(r.json()["nodes"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--launches", type=int, default=30)
    ap.add_argument("--executions", type=int, default=40)
    ap.add_argument("--width", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--max-parallel", type=int, default=None)  # None: the server's default
    ap.add_argument("--worker-nice", type=int, default=None)  # None: the server's default
    # Worker processes shared by the slots (0: each slot its own); None: the server's default.
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--probe-every", type=float, default=0.02)
    ap.add_argument(
        "--prober-in-process",
        action="store_true",
        help="probe from a thread of this process (the measurement before the prober had a "
        "process of its own: its waits for this process's GIL and core counted)",
    )
    ap.add_argument("--only", choices=("throughput",), default=None)
    ap.add_argument("--rest-top", type=int, default=0, metavar="N")
    ap.add_argument("--profile", metavar="DIR", default=None)
    ap.add_argument("--trace", metavar="FILE", default=None)
    ap.add_argument("--wal-dir", metavar="DIR", default=None)
    ap.add_argument("--pg-waldump", metavar="BIN", default="pg_waldump")
    ap.add_argument("--probes-out", metavar="FILE", default=None)
    args = ap.parse_args()
    args.probed = {}

    from airfoil.cli._load import load_entity
    from airfoil.client import Client

    admin = sa.create_engine(PG_URL, poolclass=sa.pool.NullPool)
    schema = args.schema = f"airfoil_bench_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    extra = os.environ.get("AIRFOIL_BENCH_PG_OPTIONS", "")  # e.g. "-csynchronous_commit%3Doff"
    db = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    if extra:
        db += "%20" + extra
    db += f"&application_name={schema}"  # how its backends are found (server_backends)
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        (tmp / "user").mkdir()
        (tmp / "user" / "flow.py").write_text(FLOW.replace("WIDTH", str(args.width)))
        entities = [load_entity(str(tmp / "user" / "flow.py"), n) for n in ("one", "fan", "big")]
        proc, url = _start(
            tmp,
            db,
            args.slots,
            args.max_parallel,
            args.profile,
            args.trace,
            args.worker_nice,
            args.workers,
        )
        try:
            with (
                Client(url, project="bench") as client,
                contextlib.closing(Cpu(proc.pid, admin, schema)) as cpu,
            ):
                client.register(entities)
                rates = []
                if args.only == "throughput":  # the first round runs on a cold server
                    rates.append(_round(client, cpu, args, "cold"))
                lat = _launch_latency(client, args.launches) if args.only is None else []
                if lat:
                    print(
                        f"launch-to-first-task-start: median {statistics.median(lat) * 1000:.1f}"
                        f" ms (min {min(lat) * 1000:.1f}, max {max(lat) * 1000:.1f}, "
                        f"n={len(lat)})  [budget < 100 ms]",
                        flush=True,
                    )
                while len(rates) < args.repeat:
                    rates.append(_round(client, cpu, args, "warm"))
                tasks = args.executions * (args.width + 1)
                print(
                    f"engine throughput (PostgreSQL): median {statistics.median(rates):.0f} "
                    f"tasks/s (spread {min(rates):.0f}-{max(rates):.0f}, n={len(rates)}; "
                    f"{tasks} tasks in {args.executions} concurrent executions per round; "
                    f"slots={args.slots}, workers/slot={args.max_parallel or 'default'}, "
                    f"shared workers={'default' if args.workers is None else args.workers})  "
                    "[budget >= 500/s; issue 17 goal >= 2,000/s]",
                    flush=True,
                )
                for kind, probed in args.probed.items():
                    print(
                        f"API under load, {kind} rounds together: p50 "
                        f"{statistics.median(probed) * 1000:.1f} ms, p99 "
                        f"{_p99(probed) * 1000:.1f} ms (n={len(probed)})  [budget p99 < 100 ms]",
                        flush=True,
                    )
                if args.only is not None:
                    return
                samples, nodes = _detail_latency(client, args.requests)
                p99 = _p99(samples)
                print(
                    f"execution detail ({nodes} nodes): p50 {statistics.median(samples) * 1000:.1f}"
                    f" ms, p99 {p99 * 1000:.1f} ms (n={len(samples)})  [budget p99 < 100 ms]",
                    flush=True,
                )
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


def _counts(admin: sa.Engine, schema: str) -> dict[str, int]:
    """Counters read before and after a round. ``xacts``: transactions committed in the
    benchmark's database so far (``pg_stat_database``: every session's, the API's reads
    included, and other users' of that database). ``upd``: rows of the benchmark's
    ``executions`` table updated so far (``hot`` of them heap-only): per fenced batch that
    writes the execution's record, per lease renewal, claim and release, and per launch's
    execution write (before the fence became a row lock, one per fenced batch too).
    ``rows_upd``, ``rows_ins``: rows updated and inserted in all the schema's tables.
    ``dead``: dead row versions the schema's tables hold now (what vacuum has to remove).
    ``wal``: the WAL's insert position in bytes (the whole cluster's: other users'
    writes count too). ``flushes``: the WAL's flushes to disk so far (``pg_stat_wal``,
    PostgreSQL 14+; the cluster's), each a synchronous commit's wait unless it found its
    WAL flushed by another's. A backend reports its counts at most once a second, hence
    the wait before a round's last read."""
    with admin.connect() as conn:
        xacts = conn.execute(
            sa.text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        ).scalar_one()
        row = conn.execute(
            sa.text(
                "SELECT sum(n_tup_upd) FILTER (WHERE relname = 'executions'), "
                "sum(n_tup_hot_upd) FILTER (WHERE relname = 'executions'), "
                "sum(n_tup_upd), sum(n_tup_ins), sum(n_dead_tup), "
                "pg_current_wal_lsn() - '0/0'::pg_lsn "
                "FROM pg_stat_user_tables WHERE schemaname = :s"
            ),
            {"s": schema},
        ).one()
        flushes = conn.execute(
            sa.text(
                "SELECT CASE WHEN to_regclass('pg_catalog.pg_stat_wal') IS NOT NULL "
                "THEN (SELECT wal_sync FROM pg_stat_wal) ELSE 0 END"
            )
        ).scalar_one()
        keys = ("upd", "hot", "rows_upd", "rows_ins", "dead", "wal")
        counts = {k: int(v or 0) for k, v in zip(keys, row, strict=True)}
        return {"xacts": int(xacts), "flushes": int(flushes or 0), **counts}


def _round(client: Any, cpu: Cpu, args: argparse.Namespace, kind: str) -> float:
    """One throughput round; prints its rate, API latency under load and CPU split."""
    first = _counts(cpu.admin, args.schema)
    # The prober's process starts (a Python interpreter and its imports: ~0.23 s of CPU,
    # ~0.06 ms a task) before the round's first snapshot and ends after its last, so the
    # machine's CPU between them is the round's; its probing is counted by its pid.
    prober = _Prober(client, args.probe_every, args.prober_in_process)
    prober.start()
    before = cpu.snapshot(prober.pid, everyone=args.rest_top > 0)
    took, tasks, sent = _throughput(client, args.executions, args.width, prober)
    after = cpu.snapshot(prober.pid, everyone=args.rest_top > 0)
    prober.finish()
    sent["probes"] = len(prober.probes)
    traced = prober.probes
    probes = [latency for _, _, latency in traced]
    split = cpu.split(before, after)
    args.probed.setdefault(kind, []).extend(probes)
    if args.probes_out:  # appended: rounds of several invocations pooled later
        import json

        with open(args.probes_out, "a") as out:
            record = {"round": kind, "latencies_s": probes, "probes": traced}
            out.write(json.dumps(record) + "\n")
    time.sleep(1.2)  # the backends' statistics reach pg_stat_* within a second
    last = _counts(cpu.admin, args.schema)
    d = {k: (last[k] - first[k]) / tasks for k in first}
    per = {k: v / tasks * 1000 for k, v in split.items()}
    rest = per["machine"] - sum(v for k, v in per.items() if k != "machine")
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    prober_where = "thread, counted in it," if args.prober_in_process else "process"
    print(
        f"  round ({kind}): {tasks / took:.0f} tasks/s; API under load: p50 "
        f"{statistics.median(probes) * 1000:.1f} ms, p99 {_p99(probes) * 1000:.1f} ms "
        f"(n={len(probes)}); CPU ms/task: server {per['server'] + per['engine']:.2f} "
        f"(API {per['server']:.2f}, engine process {per['engine']:.2f}), workers "
        f"{per['workers']:.2f}, postgres {per['db']:.2f} (and its own processes "
        f"{per['pg_bg']:.2f}), this benchmark's own process "
        f"{per['bench']:.2f} (its prober's {prober_where} {per['prober']:.2f}), the rest "
        f"{rest:.2f}, machine {per['machine']:.2f} (of "
        f"{cores * took / tasks * 1000:.2f} on {cores} cores); requests "
        f"{', '.join(f'{k} {v}' for k, v in sent.items())}; per task: execution row "
        f"updates (record writes + lease traffic) {d['upd']:.3f} (heap-only {d['hot']:.3f}), "
        f"rows updated {d['rows_upd']:.2f}, inserted {d['rows_ins']:.2f}, dead rows at the "
        f"end {last['dead'] / tasks:.2f}, WAL {d['wal']:.0f} bytes (cluster-wide), commits "
        f"{d['xacts']:.3f} (database-wide, reads included), WAL flushes {d['flushes']:.3f} "
        f"(cluster-wide); load average {load:.1f}",
        flush=True,
    )
    if args.rest_top:
        print_rest(before, after, tasks, args.rest_top, rest)
    if args.wal_dir:
        _print_wal(cpu.admin, args, first["wal"], last["wal"], tasks)
    if args.trace:
        _print_slowest(args.trace, traced)
    return tasks / took


def _lsn(position: int) -> str:
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


def _print_wal(admin: sa.Engine, args: argparse.Namespace, start: int, end: int, n: int) -> None:
    """The round's WAL that the benchmark's own database wrote, per table (its indexes and
    TOAST folded in) and its commit records: ``pg_waldump`` over the round's positions,
    each record counted by the relations its blocks name (other databases' records are left
    out) and each commit by its transaction. Needs the server's ``pg_wal`` directory."""
    with admin.connect() as conn:
        db = conn.execute(
            sa.text("SELECT oid FROM pg_database WHERE datname = current_database()")
        ).scalar_one()
        rels = conn.execute(
            sa.text(
                "SELECT c.relfilenode, t.relname FROM pg_class t "
                "JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = :s "
                "JOIN pg_class c ON c.oid = t.oid OR c.oid = t.reltoastrelid "
                "OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = t.oid) "
                "OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = t.reltoastrelid) "
                "WHERE t.relkind = 'r'"
            ),
            {"s": args.schema},
        ).all()
    table = {f"1663/{db}/{node}": name for node, name in rels}
    done = subprocess.run(
        [args.pg_waldump, "-p", args.wal_dir, "-s", _lsn(start), "-e", _lsn(end)],
        capture_output=True,
        text=True,
    )
    out = done.stdout
    by: dict[str, int] = {}
    mine: set[str] = set()
    commits: list[tuple[str, int]] = []
    for line in out.splitlines():
        size = re.search(r"len \(rec/tot\):\s*\d+/\s*(\d+), tx:\s*(\d+)", line)
        if size is None:
            continue
        tot, tx = int(size.group(1)), size.group(2)
        if "desc: COMMIT" in line:
            commits.append((tx, tot))
            continue
        names = {table.get(r) for r in re.findall(r"rel (\d+/\d+/\d+)", line)}
        names.discard(None)
        if names:
            name = min(n for n in names if n)
            by[name] = by.get(name, 0) + tot
            mine.add(tx)
    if not mine:  # e.g. the round's first segment recycled by a checkpoint already
        print(f"    WAL of this database: not read ({done.stderr.strip()[-200:]})", flush=True)
        return
    by["(commits)"] = sum(tot for tx, tot in commits if tx in mine)
    total = sum(by.values())
    parts = ", ".join(f"{k} {v / n:.0f}" for k, v in sorted(by.items(), key=lambda kv: -kv[1]))
    print(f"    WAL of this database per task: {total / n:.0f} bytes ({parts})", flush=True)


def _print_slowest(path: str, traced: list[tuple[str, float, float]]) -> None:
    """The slowest 1% of a round's probes, each with the phases the server traced for it."""
    import json

    records = [json.loads(line) for line in Path(path).read_text().splitlines() if line]
    by_probe = {r["probe"]: r for r in records if r.get("probe")}
    lags = [r for r in records if "lag" in r]
    cpu = [r for r in records if "gil" in r]
    gcs = [r for r in records if "gc" in r]
    for probe, sent, latency in sorted(traced, key=lambda t: -t[2])[: max(3, len(traced) // 50)]:
        r = by_probe.get(probe)
        if r is None:
            print(f"    {latency * 1000:.1f} ms: not traced", flush=True)
            continue
        hops = " ".join(
            f"[{h['fn']} q{h.get('queued')} run{h.get('ran')}/cpu{h.get('cpu')} "
            f"sql{h.get('sql_n')}:{h.get('sql_ms')} {h.get('worst', '')} res{h.get('resumed')}]"
            for h in r["hops"]
        )
        before = r["at"] - sent
        lag = [x["lag"] for x in lags if sent - 0.05 <= x["at"] <= sent + latency + 0.05]
        near = [x["gil"] for x in cpu if sent - 0.25 <= x["at"] <= sent + latency + 0.5]
        gc = [
            f"gen{x['gc']} {x['ms']}ms {x['thread']}@{x['pid']}"
            for x in gcs
            if sent - 0.05 <= x["at"] <= sent + latency + 0.05
        ]
        print(
            f"    {latency * 1000:.1f} ms {r['path'][-40:]}: to app {before * 1000:.1f}, "
            f"app {r['total']} {hops}; loop late {lag}; gc {gc}; cpu/thread {near[:2]}",
            flush=True,
        )


if __name__ == "__main__":
    main()
