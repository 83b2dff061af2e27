"""The API's CPU to answer an execution's detail polled while it runs, in this process.

An execution of ``--nodes`` task nodes (each with an attempt, an input and an output, as a
fan-out's) is written to a fresh SQLite store; then, ``--polls`` times, ``--changed`` of its
nodes get a new record and the execution an event (as between two polls of the console),
and the detail is asked for (``execution_detail_json``: the store's read and the build),
timed in this thread's CPU (the writes are not). ``--changed 0`` with ``--whole`` asks with
nothing kept (each answer built whole, as the first read of an execution is).

    PYTHONPATH=src python benchmarks/bench_detail_build.py [--nodes 1000 --changed 10]

For an A/B against another tree, run it with ``PYTHONPATH`` pointing at that tree's ``src``
(a tree that builds each detail whole shows the whole build in both lines).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from types import SimpleNamespace
from typing import Any

import msgspec

from airfoil.core.records import AttemptRecord, EventRecord, NodeRecord, StoreBatch, Value
from airfoil.server import _detail
from airfoil.store.sql import SqlMetaStore, migrate
from airfoil.testing.records import make_event, make_execution
from airfoil.types import ValueContext, default_type_engine


def _value(x: int) -> Value:
    data = msgspec.json.encode(x)
    return Value(hash=uuid.uuid4().hex * 2, format="json", size=len(data), inline=data)


def _deps(store: SqlMetaStore) -> Any:
    """What the detail reads of the server's Deps."""
    return SimpleNamespace(
        meta=store,
        clock=SimpleNamespace(now=time.time),
        types=default_type_engine(),
        value_ctx=lambda: ValueContext(blobs=None),  # type: ignore[arg-type]
        detail_cache=OrderedDict(),
        detail_lock=threading.Lock(),
        detail_tag="bench",
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--changed", type=int, default=10)
    ap.add_argument("--polls", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/airfoil.db"
        migrate(url)
        store = SqlMetaStore(url)
        eid = "e1"
        rec = msgspec.structs.replace(
            make_execution(eid, phase="running"),
            ended_at=None,
            outputs=None,
            error=None,
            inputs={"x": _value(1)},
        )
        nodes = [
            NodeRecord(
                execution_id=eid,
                node_id=f"n{i}",
                phase="succeeded",
                task="flow.inc",
                attempts=1,
                inputs={"x": _value(i)},
                outputs={"o0": _value(i + 1)},
                queued_at=1.0,
                started_at=2.0 + i,
                ended_at=2.5 + i,
            )
            for i in range(args.nodes)
        ]
        attempts = [
            AttemptRecord(
                execution_id=eid,
                node_id=n.node_id,
                attempt=1,
                phase="succeeded",
                started_at=2.0,
                ended_at=2.5,
                worker="host:1",
            )
            for n in nodes
        ]
        seq = 1

        def event() -> EventRecord:
            nonlocal seq
            seq += 1
            return make_event(eid, seq, cause="bench", cause_id=0)

        store.write(StoreBatch(execution=rec, nodes=nodes, attempts=attempts, events=[event()]))
        d = _deps(store)
        _detail.execution_detail_json(d, rec.project, eid)
        lines: dict[str, list[float]] = {"changed": [], "whole": []}
        for _ in range(args.repeat):
            for kind in lines:
                spent = []
                for p in range(args.polls):
                    if kind == "whole":
                        d.detail_cache.clear()
                    moved = [
                        msgspec.structs.replace(
                            nodes[(p * 7919 + j * 97) % len(nodes)], ended_at=time.time()
                        )
                        for j in range(args.changed)
                    ]
                    store.write(StoreBatch(nodes=moved, events=[event()]))
                    t0 = time.thread_time()
                    _detail.execution_detail_json(d, rec.project, eid)
                    spent.append(time.thread_time() - t0)
                lines[kind].append(statistics.median(spent) * 1e3)
        for kind, ms in lines.items():
            what = (
                f"{args.changed} of {args.nodes} nodes changed"
                if kind == "changed"
                else (f"built whole ({args.nodes} nodes, nothing kept)")
            )
            print(
                f"detail, {what}: median {statistics.median(ms):.2f} ms of this thread's CPU "
                f"(batches {' '.join(f'{x:.2f}' for x in ms)})"
            )
        store.close()


if __name__ == "__main__":
    main()
