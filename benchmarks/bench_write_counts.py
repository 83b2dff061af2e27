"""Deterministic counts of what the store's write path sends per task: SQL statements, and
rows inserted / updated per table as PostgreSQL's statistics count them.

Replays ``bench_pg_rows.one_execution`` (the server's writes for a fan-out of ``--width``
trivial tasks: the launch, every task queued, then per task its end and its successor's
start under the lease, ``--per-turn`` tasks a batch) through ``SqlMetaStore.write`` on
PostgreSQL (a fresh schema) and on SQLite (a fresh file), counting the statements the store
runs on its DBAPI cursor. Compare trees by running it with each tree's ``src`` first on
``PYTHONPATH``: the counts do not depend on the machine's load.

    PYTHONPATH=src python benchmarks/bench_write_counts.py [--width 100 --per-turn 1]
"""

from __future__ import annotations

import argparse
import collections
import os
import tempfile
import time
import uuid
from typing import Any

import sqlalchemy as sa
from bench_pg_rows import PG_URL, one_execution

from airfoil.store.sql import SqlMetaStore


class _Counting:
    """A DBAPI cursor that counts the statements run through it (by their first words)."""

    def __init__(self, cur: Any, counts: collections.Counter[str]) -> None:
        self._cur, self._counts = cur, counts

    def execute(self, sql: str, params: Any = None) -> Any:
        self._counts[" ".join(sql.split()[:3])] += 1
        self._counts["total"] += 1
        return self._cur.execute(sql, params) if params is not None else self._cur.execute(sql)

    def executemany(self, sql: str, rows: Any) -> Any:
        rows = list(rows)
        self._counts[" ".join(sql.split()[:3])] += len(rows)
        self._counts["total"] += len(rows)
        return self._cur.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


def _count(store: SqlMetaStore, width: int, per_turn: int) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    cursor = store._cursor
    store._cursor = lambda: _Counting(cursor(), counts)  # type: ignore[method-assign]
    one_execution(store, width, per_turn)
    return counts


def _pg_rows(url: str, schema: str) -> dict[str, tuple[int, int, int]]:
    """Rows inserted, updated and HOT-updated per table of ``schema``."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            time.sleep(0.6)  # the backends flush their statistics at most every 0.5 s (PG 15)
            rows = conn.execute(
                sa.text(
                    "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd FROM "
                    "pg_stat_user_tables WHERE schemaname = :s AND (n_tup_ins + n_tup_upd) > 0"
                ),
                {"s": schema},
            )
            return {str(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in rows}
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=100)
    parser.add_argument("--per-turn", type=int, default=1)
    args = parser.parse_args()
    tasks = args.width + 1
    schema = f"airfoil_counts_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
        store = SqlMetaStore(url)
        try:
            pg = _count(store, args.width, args.per_turn)
        finally:
            store.close()
        rows = _pg_rows(url, schema)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlMetaStore(f"sqlite:///{os.path.join(tmp, 'airfoil.db')}")
        try:
            lite = _count(store, args.width, args.per_turn)
        finally:
            store.close()
    print(f"one execution of {tasks} tasks (width {args.width}), {args.per_turn} task(s) a batch")
    for name, counts in (("PostgreSQL", pg), ("SQLite", lite)):
        print(f"{name}: {counts['total']} statements, {counts['total'] / tasks:.2f} per task")
        for stmt, n in sorted(counts.items()):
            if stmt != "total":
                print(f"    {n:6d}  {stmt}")
    print("PostgreSQL rows (inserted, updated, HOT-updated) per table:")
    for table, (ins, upd, hot) in sorted(rows.items()):
        print(f"    {table:12s} {ins:6d} {upd:6d} {hot:6d}")


if __name__ == "__main__":
    main()
