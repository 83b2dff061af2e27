"""Microseconds for a thread to take the store's kept idle connection and hand it back.

What a server's new API thread (or a lease's heartbeat) pays before its first statement: a
new per-thread ``Held`` over the kept driver connection (its cursor, its finalizer, its
registration to be kept past a fork) and, when it is released, the connection kept idle again.
No statement is sent. Prints the median of 5 rounds (each the mean over ``--n`` cycles) for
SQLite and PostgreSQL (skipped if unreachable; set AIRFOIL_BENCH_PG_URL).

    PYTHONPATH=src python benchmarks/bench_thread_connection.py [--n 20000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable

from _util import temp_dir
from bench_store import PG_URL, _drop_schema, _pg_store

from airfoil.store.base import MetaStore


def bench(make: Callable[[], MetaStore], n: int) -> float:
    """Median over 5 rounds of the mean microseconds per take-and-release cycle."""
    from airfoil.store.sql import SqlMetaStore

    store = make()
    assert isinstance(store, SqlMetaStore)
    try:
        conns = store._conns
        conns.open()
        conns.release()  # kept idle: every cycle below takes it
        rounds = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(n):
                conns.open()
                conns.release()
            rounds.append((time.perf_counter() - start) / n * 1e6)
        return statistics.median(rounds)
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="cycles per round")
    args = parser.parse_args()
    tmp = temp_dir(prefix="airfoil-bench-")
    print(f"take and release the kept connection; median of 5 rounds x {args.n}")
    print(f"  load average {os.getloadavg()[0]:.1f}")
    from airfoil.store.sql import SqlMetaStore

    schema = f"airfoil_bench_{uuid.uuid4().hex[:8]}"
    pg_url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    backends: list[tuple[str, Callable[[], MetaStore]]] = [
        ("sqlite", lambda: SqlMetaStore(f"sqlite:///{tmp}/airfoil.db")),
        ("postgresql", lambda: _pg_store(pg_url, schema)),
    ]
    for name, make in backends:
        try:
            print(f"  {name:<12} {bench(make, args.n):7.2f} us/cycle")
        except Exception as exc:  # PostgreSQL not running: report and go on
            print(f"  {name:<12} skipped: {exc}")
        else:
            if name == "postgresql":
                _drop_schema(schema)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
