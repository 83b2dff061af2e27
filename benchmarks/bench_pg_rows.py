"""PostgreSQL's CPU per trivial task for the rows the engine writes, without the engine.

Replays, through ``SqlMetaStore.write``, what the server writes for ``--executions`` fan-outs
of ``--width`` trivial tasks and a reducer: the launch (the execution, every node pending,
one event), then under the lease: every task queued (one batch), and per task a turn of the
driver (its end: node, attempt and two events; the next task's start: node, attempt and
one event), then the reducer's. Prints the CPU seconds the PostgreSQL backends serving this
process spent per task (median of ``--rounds`` rounds, a fresh schema each), its own CPU
per task, and the rows' sizes. Measures the database's share of issue 17's per-task cost
with no server, workers or scheduling in the way: compare trees by running it with each
tree's ``src`` first on ``PYTHONPATH``, alternating.

    PYTHONPATH=src python benchmarks/bench_pg_rows.py [--executions 20 --width 100 --rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid

import psutil
import sqlalchemy as sa

from airfoil.core.records import AttemptRecord, EventRecord, NodeRecord, StoreBatch, Value
from airfoil.store.sql import SqlMetaStore
from airfoil.testing.conformance import make_execution

PG_URL = os.environ.get("AIRFOIL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
VALUE = Value(hash="ab" * 32, format="json", inline=b"1", size=1)


class _Log:
    """One execution's event log: seq numbers in order."""

    def __init__(self, eid: str) -> None:
        self.eid, self.seq = eid, 0

    def event(self, kind: str, to: str, node: str, attempt: int = 0) -> EventRecord:
        self.seq += 1
        return EventRecord(self.eid, self.seq, time.time(), kind, to, "bench", node, attempt)


def _node(eid: str, nid: str, phase: str, **fields: object) -> NodeRecord:
    return NodeRecord(execution_id=eid, node_id=nid, phase=phase, task="bench.inc", **fields)  # type: ignore[arg-type]


def one_execution(store: SqlMetaStore, width: int, per_turn: int = 1) -> int:
    """Write one fan-out's records as the server does, ``per_turn`` tasks' ends (and their
    successors' starts) a batch; the number of tasks."""
    eid = f"e-{uuid.uuid4().hex[:12]}"
    log = _Log(eid)
    ids = [f"inc-{i}" for i in range(width)] + ["total"]
    store.write(
        StoreBatch(
            execution=make_execution(eid),
            nodes=[_node(eid, n, "pending") for n in ids],
            events=[log.event("execution", "queued", "")],
        )
    )
    assert store.acquire_lease(eid, "bench", time.time(), 3600.0)
    lease = (eid, "bench")
    inputs = {"x": VALUE}
    queued = [_node(eid, n, "queued", inputs=inputs, queued_at=1.0) for n in ids[:-1]]
    store.write(
        StoreBatch(
            nodes=queued, events=[log.event("node", "queued", n) for n in ids[:-1]], lease=lease
        )
    )

    def start(nid: str) -> tuple[NodeRecord, AttemptRecord, EventRecord]:
        node = _node(eid, nid, "running", inputs=inputs, attempts=1, queued_at=1.0, started_at=2.0)
        attempt = AttemptRecord(eid, nid, 1, "running", started_at=2.0)
        return node, attempt, log.event("node", "running", nid)

    def end(nid: str) -> StoreBatch:
        node = _node(
            eid, nid, "succeeded", inputs=inputs, outputs={"o0": VALUE}, attempts=1,
            queued_at=1.0, started_at=2.0, ended_at=3.0,
        )  # fmt: skip
        attempt = AttemptRecord(eid, nid, 1, "succeeded", started_at=2.0, ended_at=3.0)
        events = [log.event("attempt", "succeeded", nid, 1), log.event("node", "succeeded", nid)]
        return StoreBatch(nodes=[node], attempts=[attempt], events=events, lease=lease)

    first = [start(n) for n in ids[:2]]
    store.write(
        StoreBatch(
            nodes=[f[0] for f in first],
            attempts=[f[1] for f in first],
            events=[f[2] for f in first],
            lease=lease,
        )
    )
    batch = StoreBatch(lease=lease)
    for i, nid in enumerate(ids):
        ended = end(nid)
        batch.nodes += ended.nodes
        batch.attempts += ended.attempts
        batch.events += ended.events
        following = i + 2 if i + 2 < width else (width if i == width - 1 else None)
        if following is not None:
            node, attempt, event = start(ids[following])
            batch.nodes.append(node)
            batch.attempts.append(attempt)
            batch.events.append(event)
        if (i + 1) % per_turn == 0 or i == len(ids) - 1:
            store.write(batch)
            batch = StoreBatch(lease=lease)
    return len(ids)


def _backends(admin: sa.Engine) -> list[int]:
    """The PostgreSQL backends whose clients are this process's sockets."""
    me = psutil.Process()
    ports = {c.laddr.port for c in me.net_connections("tcp") if c.raddr and c.raddr.port == 5432}
    with admin.connect() as conn:
        rows = conn.execute(sa.text("SELECT pid, client_port FROM pg_stat_activity"))
        return [int(pid) for pid, port in rows if port in ports]


def _backend_cpu(pids: list[int]) -> float:
    """CPU seconds of the backends ``pids``."""
    total = 0.0
    for pid in pids:
        t = psutil.Process(pid).cpu_times()
        total += t.user + t.system
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--executions", type=int, default=20)
    ap.add_argument("--width", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--per-turn", type=int, default=1, help="tasks' ends a batch carries (server: 1-2)"
    )
    ap.add_argument(
        "--pg-options",
        default="",
        help="server settings for the store's sessions, e.g. '-csynchronous_commit=off'",
    )
    args = ap.parse_args()
    admin = sa.create_engine(PG_URL, poolclass=sa.pool.NullPool)
    db_ms, own_ms, sizes = [], [], ""
    for _ in range(args.rounds):
        schema = f"airfoil_rows_{uuid.uuid4().hex[:8]}"
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
        if args.pg_options:
            url += "%20" + args.pg_options.replace("=", "%3D").replace(" ", "%20")
        store = SqlMetaStore(url)
        try:
            # warm: connections, prepared statements
            one_execution(store, args.width, args.per_turn)
            pids = _backends(admin)
            db0, own0, tasks = _backend_cpu(pids), time.process_time(), 0
            for _ in range(args.executions):
                tasks += one_execution(store, args.width, args.per_turn)
            db_ms.append((_backend_cpu(pids) - db0) / tasks * 1e3)
            own_ms.append((time.process_time() - own0) / tasks * 1e3)
            with admin.connect() as conn:
                sizes = ", ".join(
                    f"{name} {size // 1024} KiB"
                    for name, size in conn.execute(
                        sa.text(
                            "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
                            "WHERE relnamespace = CAST(:s AS regnamespace) AND relkind = 'r' "
                            "AND relname IN ('nodes', 'attempts', 'events') ORDER BY relname"
                        ),
                        {"s": schema},
                    )
                )
        finally:
            store.close()
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    print(
        f"PostgreSQL CPU per task: median {statistics.median(db_ms):.3f} ms "
        f"(rounds {', '.join(f'{v:.3f}' for v in db_ms)}); this process "
        f"{statistics.median(own_ms):.3f} ms; {args.executions} x {args.width + 1} tasks a "
        f"round, {args.per_turn} a batch; last round's tables: {sizes}"
    )


if __name__ == "__main__":
    main()
