"""Admission latency through the cluster's admission authority (the database) beside the
in-process queue it replaces for server replicas.

For each setup, ``N`` requests one after another: submit an attempt asking for 1 CPU, poll
``take`` every millisecond until it is granted (the time measured), then finish it. Setups:

- ``in-process``: one ``ResourceQueue`` (what a single process, or SQLite, uses): submit,
  decide and take in the caller's thread;
- ``authority, own request``: one replica holding the authority (its agent decides);
- ``authority, other replica``: two replicas; the request is made on the one that does not
  hold the authority (its row is written, the holder's pass grants it, the requester's agent
  reads the grant back): the path of most requests with several replicas.

The engine's drive loop looks for grants every ``admission_poll_s`` (50 ms) while it waits,
which adds up to that much to each figure (to the in-process queue's too). Agents poll every
``poll_s`` (50 ms default) when not woken; a submit wakes the local agent at once.

Usage: ``python benchmarks/bench_admission.py [N]`` (PostgreSQL at ``AIRFOIL_BENCH_PG_URL``,
default the local test database; a fresh schema is made and dropped).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from airfoil.core.records import Interface, TaskSpec
from airfoil.core.resources import ResourceSpec
from airfoil.engine._authority import AuthorityQueue
from airfoil.engine._resources import AdmissionQueue, ResourceQueue
from airfoil.store.admission import AdmissionStore
from airfoil.store.memory import MemoryMetaStore
from airfoil.store.sql._admission import SqlAdmissionStore

PG_URL = os.environ.get("AIRFOIL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TASK = TaskSpec(
    name="bench.hold",
    version="v1",
    interface=Interface(),
    module="bench",
    qualname="hold",
    requests=ResourceSpec(cpu=1.0),
)


def _policy(meta: MemoryMetaStore) -> Callable[[], ResourceQueue]:
    def make() -> ResourceQueue:
        return ResourceQueue(ResourceSpec(cpu=4.0, mem=2**36), meta=meta, owner="bench")

    return make


def latencies(queue: AdmissionQueue, n: int, tag: str) -> list[float]:
    out = []
    for i in range(n):
        node = f"n{i}"
        t0 = time.perf_counter()
        queue.submit(tag, node, "p", TASK)
        while True:
            queue.decide()
            granted, _ = queue.take(tag)
            if granted:
                break
            time.sleep(0.001)
        out.append(time.perf_counter() - t0)
        queue.finish(tag, node)
    return out


@contextmanager
def pg_store() -> Iterator[AdmissionStore]:
    admin = sa.create_engine(PG_URL, poolclass=sa.pool.NullPool)
    schema = f"airfoil_bench_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    store = SqlAdmissionStore(f"{PG_URL}?options=-csearch_path%3D{schema}")
    try:
        yield store
    finally:
        store.close()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def authority(store: AdmissionStore, meta: MemoryMetaStore, name: str) -> AuthorityQueue:
    return AuthorityQueue(store, "machine:bench", name, _policy(meta), lease_s=5.0)


def wait_holding(q: AuthorityQueue) -> None:
    deadline = time.monotonic() + 10
    while not q.holding:
        assert time.monotonic() < deadline, "no authority"
        time.sleep(0.01)


def line(name: str, samples: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples)
    p90 = ms[int(0.9 * (len(ms) - 1))]
    print(f"{name:44s} median {statistics.median(ms):7.2f} ms  p90 {p90:7.2f} ms  n={len(ms)}")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; n={n} each")
    meta = MemoryMetaStore()
    line("in-process ResourceQueue (baseline)", latencies(_policy(meta)(), n, "e0"))
    with tempfile.TemporaryDirectory() as tmp:
        store: AdmissionStore = SqlAdmissionStore(f"sqlite:///{tmp}/airfoil.db")
        q = authority(store, meta, "solo")
        wait_holding(q)
        try:
            line("authority on SQLite, own request", latencies(q, n, "e1"))
        finally:
            q.close()
            store.close()
    with pg_store() as store:
        a = authority(store, meta, "a")
        wait_holding(a)
        b = authority(store, meta, "b")
        try:
            line("authority on PostgreSQL, own request", latencies(a, n, "e2"))
            line("authority on PostgreSQL, other replica's", latencies(b, n, "e3"))
        finally:
            b.close()
            a.close()


if __name__ == "__main__":
    main()
