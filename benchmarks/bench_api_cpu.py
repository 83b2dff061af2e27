"""The API process's CPU per request, by kind, on a real ``airfoil server start`` on PostgreSQL.

``bench_server.py``'s throughput rounds send the API a mix of requests (launches, a waiting
client's event pages, execution details and lists from the prober); this measures what each
kind costs the API process alone (its CPU time, read from outside, over ``--requests``
sequential requests, median of ``--repeat`` batches alternated across the kinds), with the
engine idle: the executions read are finished ones of ``bench_server.py``'s fan-out
workflow (100 tasks and a reducer). Wall time per request beside it.

Kinds: ``healthz`` (answered on the event loop: what every request pays for the framework),
``detail`` and ``list`` (the prober's; the detail resolves its execution id within the
project first, as every request naming an execution does: ``(resolve)`` is that
resolution alone, measured in this process on a store of its own), ``events-all`` (a
finished execution's whole event log, ~600 entries: the first page a waiting client read
before it asked for the phase alone), ``events-none`` (the page past
the end: the phase alone), ``launch`` (of the fan-out workflow; its executions are driven
by the engine while the next batch runs, so launches are measured last), ``detail-built``
(the detail of a finished execution the API has not kept: each request names another of
the launched executions, more of them than the API keeps, so each is built from the
store's records as the first detail of an execution that just ended is: what the waiting
client's final ``get`` costs).

Beside the API process's CPU, each kind's CPU of the PostgreSQL backends serving the API
process's connections (found by their client ports, as ``bench_server.py`` does) and of
this process (the client's side: httpx, and for ``launch`` the product's ``Client``).

    PYTHONPATH=src python benchmarks/bench_api_cpu.py [--requests 200 --repeat 5]

For an A/B against another tree, run this script with ``PYTHONPATH`` pointing at that
tree's ``src``: the server it starts imports Airfoil from there.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from bench_server import FLOW, PG_URL, _start, server_backends


def _cpu(process: psutil.Process) -> float:
    t = process.cpu_times()
    return float(t.user + t.system)


def _backends(api: psutil.Process, admin: sa.Engine, tag: str) -> list[psutil.Process]:
    """The PostgreSQL backends of the API process: named ``tag-api`` (over a Unix socket
    too); for a tree from before the server named its connections, those whose client is a
    TCP socket of the API process."""
    named = server_backends(admin, tag, "api")
    if named:
        return [psutil.Process(pid) for pid in named]
    ports = {
        c.laddr.port for c in api.net_connections(kind="tcp") if c.raddr and c.raddr.port == 5432
    }
    with admin.connect() as conn:
        found = conn.execute(sa.text("SELECT pid, client_port FROM pg_stat_activity"))
        return [psutil.Process(int(pid)) for pid, port in found if port in ports]


def _cpu_of(processes: list[psutil.Process]) -> dict[int, float]:
    out = {}
    for p in processes:
        with contextlib.suppress(psutil.Error):
            out[p.pid] = _cpu(p)
    return out


def _measure(
    api: psutil.Process, admin: sa.Engine, tag: str, send: Callable[[], Any], n: int
) -> tuple[float, float, float, float]:
    """API CPU, its PostgreSQL backends' CPU, this process's CPU and wall time per request,
    in ms, over ``n`` requests (after 5 unmeasured, which open the connections they use)."""
    for _ in range(5):
        send()
    db = _cpu_of(_backends(api, admin, tag))
    before, mine, t0 = _cpu(api), time.process_time(), time.perf_counter()
    for _ in range(n):
        send()
    wall, mine = time.perf_counter() - t0, time.process_time() - mine
    api_s = _cpu(api) - before
    after = _cpu_of(_backends(api, admin, tag))  # a backend begun meanwhile counts from its start
    db_s = sum(v - db.get(pid, 0.0) for pid, v in after.items())
    return api_s / n * 1000, db_s / n * 1000, mine / n * 1000, wall / n * 1000


def _resolve_cost(
    db: str, tmp: Path, execution_id: str, n: int, repeat: int
) -> tuple[list[float], list[float]]:
    """What resolving an execution's name or id within its project (every request naming
    an execution does it once, beside the route's own reads) costs: ``resolve_execution``
    on a store of this process on the server's database (CPU of this process)."""
    from airfoil.store._open import open_meta_store

    meta = open_meta_store(db, str(tmp / "resolver"))
    cpu, wall = [], []
    try:
        for _ in range(repeat):
            for _ in range(5):
                meta.resolve_execution("bench", execution_id)
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(n):
                assert meta.resolve_execution("bench", execution_id) == execution_id
            cpu.append((time.process_time() - c0) / n * 1000)
            wall.append((time.perf_counter() - w0) / n * 1000)
    finally:
        meta.close()
    return cpu, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--launches", type=int, default=40)
    ap.add_argument(
        "--only", nargs="*", default=None, help="measure only these kinds (e.g. launch)"
    )
    args = ap.parse_args()

    from airfoil.cli._load import load_entity
    from airfoil.client import Client

    admin = sa.create_engine(PG_URL, poolclass=sa.pool.NullPool)
    schema = f"airfoil_bench_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    db = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    db += f"&application_name={schema}"  # how the API's backends are found
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        (tmp / "user").mkdir()
        (tmp / "user" / "flow.py").write_text(FLOW.replace("WIDTH", "100"))
        entities = [load_entity(str(tmp / "user" / "flow.py"), n) for n in ("one", "fan", "big")]
        proc, url = _start(tmp, db, 4, 2, None, None)
        try:
            with Client(url, project="bench") as client, httpx.Client(timeout=30) as http:
                client.register(entities)
                ids = [client.launch("flow.fan", {"x": i}).id for i in range(3)]
                for i in ids:
                    client.wait(i, poll_s=0.05)
                api = psutil.Process(proc.pid)
                base = f"{url}/api/v1/projects/bench/executions"
                events = f"{base}/{ids[0]}/events"

                def get(u: str, **params: Any) -> Callable[[], Any]:
                    def send() -> None:
                        r = http.get(u, params=params)
                        assert r.status_code == 200, r.text

                    return send

                kinds = {
                    "healthz": get(f"{url}/healthz"),
                    "detail": get(f"{base}/{ids[0]}"),
                    "list": get(base),
                    "events-all": get(events, after=0),
                    "events-none": get(events, after=2**63 - 1),
                }
                cpu: dict[str, list[float]] = {k: [] for k in [*kinds, "launch", "detail-built"]}
                wall: dict[str, list[float]] = {k: [] for k in cpu}
                db_cpu: dict[str, list[float]] = {k: [] for k in cpu}
                own: dict[str, list[float]] = {k: [] for k in cpu}

                def record(kind: str, send: Callable[[], Any], n: int) -> None:
                    c, db_c, mine, w = _measure(api, admin, schema, send, n)
                    cpu[kind].append(c)
                    db_cpu[kind].append(db_c)
                    own[kind].append(mine)
                    wall[kind].append(w)

                wanted = set(args.only) if args.only else set(cpu) | {"(resolve)"}
                for _ in range(args.repeat):
                    for kind, send in kinds.items():
                        if kind in wanted:
                            record(kind, send, args.requests)
                launched: list[str] = []
                every: list[str] = []  # every execution launched, all finished in the end
                for _ in range(args.repeat):
                    for i in launched:  # the engine's work of the last batch, done first
                        client.wait(i, poll_s=0.05, timeout=600)
                    batch: list[str] = []

                    def launch(batch: list[str] = batch) -> None:
                        batch.append(client.launch("flow.fan", {"x": len(batch)}).id)

                    if "launch" in wanted or "detail-built" in wanted:
                        record("launch", launch, args.launches)
                    launched = batch
                    every.extend(batch)
                for i in launched:
                    client.wait(i, poll_s=0.05, timeout=600)
                # more executions than the API keeps details of (32), one after another
                cycle = itertools.cycle(every)

                def built() -> None:
                    r = http.get(f"{base}/{next(cycle)}")
                    assert r.status_code == 200, r.text

                if len(every) > 40 and "detail-built" in wanted:
                    for _ in range(args.repeat):
                        record("detail-built", built, min(args.requests, len(every) - 5))
                if "(resolve)" in wanted:
                    cpu["(resolve)"], wall["(resolve)"] = _resolve_cost(
                        db, tmp, ids[0], args.requests, args.repeat
                    )
                load = os.getloadavg()[0]
                for kind in cpu:
                    if not cpu[kind]:
                        continue
                    whose = "this process's CPU" if kind == "(resolve)" else "API CPU"
                    beside = (
                        f", its PostgreSQL backends {statistics.median(db_cpu[kind]):.3f}, "
                        f"this client {statistics.median(own[kind]):.3f}"
                        if db_cpu.get(kind)
                        else ""
                    )
                    print(
                        f"{kind:12s} {whose} {statistics.median(cpu[kind]):.3f} ms/request "
                        f"(batches {min(cpu[kind]):.3f}-{max(cpu[kind]):.3f}){beside}, wall "
                        f"{statistics.median(wall[kind]):.2f} ms",
                        flush=True,
                    )
                print(f"load average at the end {load:.1f}", flush=True)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
