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
by the engine while the next batch runs, so launches are measured last).

    PYTHONPATH=src python benchmarks/bench_api_cpu.py [--requests 200 --repeat 5]

For an A/B against another tree, run this script with ``PYTHONPATH`` pointing at that
tree's ``src``: the server it starts imports Airfoil from there.
"""

from __future__ import annotations

import argparse
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
from bench_server import FLOW, PG_URL, _start


def _cpu(process: psutil.Process) -> float:
    t = process.cpu_times()
    return float(t.user + t.system)


def _measure(api: psutil.Process, send: Callable[[], Any], n: int) -> tuple[float, float]:
    """API CPU and wall time per request, in ms, over ``n`` requests (after 5 unmeasured)."""
    for _ in range(5):
        send()
    before, t0 = _cpu(api), time.perf_counter()
    for _ in range(n):
        send()
    return (_cpu(api) - before) / n * 1000, (time.perf_counter() - t0) / n * 1000


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
    args = ap.parse_args()

    from airfoil.cli._load import load_entity
    from airfoil.client import Client

    admin = sa.create_engine(PG_URL, poolclass=sa.pool.NullPool)
    schema = f"airfoil_bench_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    db = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
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
                cpu: dict[str, list[float]] = {k: [] for k in [*kinds, "launch"]}
                wall: dict[str, list[float]] = {k: [] for k in cpu}
                for _ in range(args.repeat):
                    for kind, send in kinds.items():
                        c, w = _measure(api, send, args.requests)
                        cpu[kind].append(c)
                        wall[kind].append(w)
                launched: list[str] = []
                for _ in range(args.repeat):
                    for i in launched:  # the engine's work of the last batch, done first
                        client.wait(i, poll_s=0.05, timeout=600)
                    batch: list[str] = []

                    def launch(batch: list[str] = batch) -> None:
                        batch.append(client.launch("flow.fan", {"x": len(batch)}).id)

                    c, w = _measure(api, launch, args.launches)
                    cpu["launch"].append(c)
                    wall["launch"].append(w)
                    launched = batch
                for i in launched:
                    client.wait(i, poll_s=0.05, timeout=600)
                cpu["(resolve)"], wall["(resolve)"] = _resolve_cost(
                    db, tmp, ids[0], args.requests, args.repeat
                )
                load = os.getloadavg()[0]
                for kind in cpu:
                    whose = "this process's CPU" if kind == "(resolve)" else "API CPU"
                    print(
                        f"{kind:12s} {whose} {statistics.median(cpu[kind]):.3f} ms/request "
                        f"(batches {min(cpu[kind]):.3f}-{max(cpu[kind]):.3f}), wall "
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
