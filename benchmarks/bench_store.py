"""Microseconds per ``MetaStore.write()`` of a typical engine batch, per backend.

A typical batch is what the engine commits around one task: one node upsert, one attempt
upsert and two events; each is written without a lease and under one (as a driver writes:
on PostgreSQL that batch is one statement). Prints the median of 5 rounds (each the mean
over ``--n`` writes) for the in-memory store, SQLite (a durable file: WAL,
synchronous=NORMAL) and PostgreSQL (skipped if unreachable; set AIRFOIL_BENCH_PG_URL,
default the test server).

    PYTHONPATH=src python benchmarks/bench_store.py [--n 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable

from _util import temp_dir

from airfoil.core.records import (
    AttemptRecord,
    CacheKeyParts,
    EventRecord,
    NodeRecord,
    StoreBatch,
    Value,
)
from airfoil.store.base import MetaStore
from airfoil.testing.conformance import make_execution

PG_URL = os.environ.get("AIRFOIL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def typical_batch(execution_id: str, i: int) -> StoreBatch:
    """What the engine writes when attempt 1 of node ``n{i % 50}`` finishes."""
    node_id = f"n{i % 50}"
    value = Value(hash="ab" * 32, format="json", inline=b"[1, 2, 3]", size=9)
    node = NodeRecord(
        execution_id=execution_id,
        node_id=node_id,
        phase="succeeded",
        task="pipeline.train",
        attempts=1,
        cache_status="put",
        cache_key="cd" * 32,
        cache_key_parts=CacheKeyParts("pipeline.train", "v1", "ef" * 8, {"x": "ab" * 32}),
        inputs={"x": value},
        outputs={"o0": value},
        queued_at=1.0,
        started_at=2.0,
        ended_at=3.0,
    )
    attempt = AttemptRecord(
        execution_id=execution_id, node_id=node_id, attempt=1, phase="succeeded",
        started_at=2.0, ended_at=3.0, worker="inline",
    )  # fmt: skip
    events = [
        EventRecord(execution_id, 2 * i + 1, 3.0, "attempt", "succeeded", "ok", node_id, 1),
        EventRecord(execution_id, 2 * i + 2, 3.0, "node", "succeeded", "attempt 1", node_id),
    ]
    return StoreBatch(nodes=[node], attempts=[attempt], events=events)


def bench(store: MetaStore, n: int, fenced: bool = False) -> tuple[float, float]:
    """Median over 5 rounds of the mean microseconds per write(): wall and this process's
    CPU. ``fenced``: each batch carries the lease (as every batch a driver writes does)."""
    rounds, cpu = [], []
    for r in range(5):
        eid = f"bench-{uuid.uuid4().hex[:8]}-{r}"
        store.write(StoreBatch(execution=make_execution(eid)))
        batches = [typical_batch(eid, i) for i in range(n)]
        if fenced:
            assert store.acquire_lease(eid, "bench", time.time(), 3600.0)
            for batch in batches:
                batch.lease = (eid, "bench")
        start, cpu0 = time.perf_counter(), time.process_time()
        for batch in batches:
            store.write(batch)
        rounds.append((time.perf_counter() - start) / n * 1e6)
        cpu.append((time.process_time() - cpu0) / n * 1e6)
    return statistics.median(rounds), statistics.median(cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="writes per round")
    args = parser.parse_args()
    backends: list[tuple[str, Callable[[], MetaStore]]] = []

    from airfoil.store.memory import MemoryMetaStore
    from airfoil.store.sql import SqlMetaStore

    tmp = temp_dir(prefix="airfoil-bench-")
    backends.append(("memory", MemoryMetaStore))
    backends.append(("sqlite (file, WAL)", lambda: SqlMetaStore(f"sqlite:///{tmp}/airfoil.db")))
    schema = f"airfoil_bench_{uuid.uuid4().hex[:8]}"
    pg_url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    backends.append(("postgresql", lambda: _pg_store(pg_url, schema)))

    print(
        f"write() of 1 node + 1 attempt + 2 events; median of 5 rounds x {args.n} writes "
        f"(wall, and this process's CPU); load average {os.getloadavg()[0]:.1f}"
    )
    for name, make in backends:
        try:
            store = make()
        except Exception as exc:  # PostgreSQL not running: report and go on
            print(f"  {name:<20} skipped: {exc}")
            continue
        try:
            for fenced in (False, True):
                wall, cpu = bench(store, args.n, fenced)
                how = "under a lease" if fenced else "no lease"
                print(f"  {name:<20} {how:<14} {wall:8.1f} us/write, CPU {cpu:6.1f} us")
        finally:
            store.close()
            if name == "postgresql":
                _drop_schema(schema)
    return 0


def _pg_store(url: str, schema: str) -> MetaStore:
    import sqlalchemy as sa

    from airfoil.store.sql import SqlMetaStore

    engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return SqlMetaStore(url)


def _drop_schema(schema: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
