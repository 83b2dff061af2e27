"""Observability benchmarks (issue 15), inline executor, SQLite store, this machine.

O1 a task logging 10,000 metric points (``log_metric``) beside the same task logging none:
the difference is what metrics add to a task (budget: 50 ms), flush, merge and store
included. O2 B1's chain of 100 trivial tasks on an executor wrapped by the observability
hooks (what every runtime does: metrics, failures, task history and its batched write at
the execution's end) beside the same executor unwrapped and an engine that writes no
history, in one process: what the hooks cost a task that logs nothing. O3 grouping 10,000
failed attempts (40 signatures, 100 executions) by signature, in SQLite (and PostgreSQL when
AIRFOIL_BENCH_PG_URL names a scratch database or schema: it is migrated and written to),
the first call beside later ones. O4 ``airfoil compare``'s work on two 1,000-node
executions in SQLite: read both executions and their nodes, compare (budget 1 s). Medians of
5 runs after a warm-up. O5 what task history adds to each attempt that ends: the observing
hooks' ``attempt_ended`` of 100 attempts that logged nothing, then the batched write of their
100 task runs to SQLite (what an execution of B1's chain does), beside the same hook calls
on hooks that record nothing (``Hooks``), interleaved. O6 the experiment table of 1,000 runs
(``airfoil runs W --last 1000 --sort loss:min``'s work: list the runs, read each series'
summary from ``metric_series``' columns, build and sort the table) in SQLite (and
PostgreSQL with AIRFOIL_BENCH_PG_URL), each run with a 1,000-point ``loss`` and a 10-point
``acc``, beside the same table built by decoding every series (what it would cost without
the summary columns), interleaved; wall and CPU (``process_time``) medians, load average
printed.

    .venv/bin/python benchmarks/bench_observability.py [O1 O2 O3 O4 O5 O6]
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _util import measure, report, temp_dir

os.environ["AIRFOIL_HOME"] = temp_dir(prefix="airfoil-bench-")


import airfoil as af
from airfoil.executors.hooks import HookedExecutor
from airfoil.local import convert_inputs, get_runtime, spec_of

POINTS = 10_000


@af.task
def logs(n: int) -> float:
    ctx = af.current_context()
    loss = 0.0
    for i in range(n):
        loss = 1.0 / (i + 1)
        ctx.log_metric("loss", loss)
    return loss


@af.task
def silent(n: int) -> float:
    loss = 0.0
    for i in range(n):
        loss = 1.0 / (i + 1)
    return loss


@af.task
def inc(x: int) -> int:
    return x + 1


@af.workflow
def chain100(x: int = 0) -> int:
    for _ in range(100):
        x = inc(x=x)
    return x


def o1() -> None:
    assert logs(n=10) == silent(n=10)
    without = measure(lambda: silent(n=POINTS))
    with_metrics = measure(lambda: logs(n=POINTS))
    report(
        f"O1 a task logging {POINTS:,} metric points",
        with_metrics,
        baseline=without,
        budget="<= 50 ms added",
    )
    print("   (baseline 'plain Python' = the same task logging nothing)")


def o2() -> None:
    rt = get_runtime()
    wrapped = rt.new_executor("inline")
    assert isinstance(wrapped, HookedExecutor)
    raw = wrapped.inner
    code_root = os.path.dirname(os.path.abspath(__file__))
    spec, values = spec_of(chain100), convert_inputs(chain100, {"x": 0}, rt)

    def run(engine: object) -> None:
        eng = engine  # type: ignore[assignment]
        record = eng.launch(spec, values, code_root=code_root)  # type: ignore[attr-defined]
        assert eng.drive(record.id).phase == "succeeded"  # type: ignore[attr-defined]

    hooked_engine, raw_engine = rt.engine(executor=wrapped), rt.engine(executor=raw)
    raw_engine.on_finished = None  # nothing observing: no history written at its end
    bare: list[float] = []
    hooked: list[float] = []
    for _ in range(3):  # interleaved, so load from other processes hits both alike
        bare += measure(lambda: run(raw_engine), runs=3)
        hooked += measure(lambda: run(hooked_engine), runs=3)
    report("O2 chain of 100 tasks, observability hooks", hooked, per=100, baseline=bare)
    print("   (baseline 'plain Python' = the same executor without the hooks)")


def o3() -> None:
    import time

    from airfoil.core.records import StoreBatch
    from airfoil.store.sql import SqlMetaStore
    from airfoil.testing.observability_conformance import make_failure
    from airfoil.testing.records import make_execution

    urls = [f"sqlite:///{temp_dir(prefix='airfoil-bench-')}/o3.db"]
    if os.environ.get("AIRFOIL_BENCH_PG_URL"):
        urls.append(os.environ["AIRFOIL_BENCH_PG_URL"])
    for url in urls:
        store = SqlMetaStore(url)
        try:
            for e in range(100):
                store.write(StoreBatch(execution=make_execution(f"o3e{e}")))
            for i in range(10_000):
                store.put_failure(
                    make_failure(
                        f"o3e{i % 100}",
                        f"n{i // 100}",
                        1,
                        task=f"mod.t{i % 5}",
                        at=1000.0 + i,
                        message=f"row {i} of /data/p{i}.csv is bad",
                        func=f"f{i % 40}",
                    )
                )
            t0 = time.perf_counter()
            groups = store.failure_groups("default")
            first = time.perf_counter() - t0
            assert len(groups) == 40 and sum(g.count for g in groups) == 10_000
            report(
                f"O3 group 10,000 failed attempts ({url.split(':')[0]})",
                measure(lambda: store.failure_groups("default")),  # noqa: B023
                budget="<= 1 s",
            )
            print(f"   first call {first * 1000:.1f} ms")
        finally:
            store.close()


def o4() -> None:
    import msgspec

    from airfoil.core.compare import compare_executions
    from airfoil.core.records import StoreBatch
    from airfoil.store.sql import SqlMetaStore
    from airfoil.testing.records import make_execution, make_node

    store = SqlMetaStore(f"sqlite:///{temp_dir(prefix='airfoil-bench-')}/o4.db")
    try:
        for eid in ("o4a", "o4b"):
            nodes = [
                msgspec.structs.replace(make_node(eid, f"n{i}", "succeeded"), dynamic_spec=None)
                for i in range(1000)
            ]
            store.write(StoreBatch(execution=make_execution(eid), nodes=nodes))

        def compare() -> None:
            c = compare_executions(
                store.get_execution("o4a"),
                store.get_nodes("o4a"),
                store.get_execution("o4b"),
                store.get_nodes("o4b"),
            )
            assert len(c.nodes) == 1000

        report("O4 compare two 1,000-node executions (SQLite)", measure(compare), budget="<= 1 s")
    finally:
        store.close()


def o5() -> None:
    from airfoil.core.records import Interface, StoreBatch, TaskSpec
    from airfoil.executors.base import AttemptRequest, AttemptResult
    from airfoil.executors.hooks import Hooks
    from airfoil.executors.observe import ObservingHooks
    from airfoil.store.blob import LocalBlobStore
    from airfoil.store.sql import SqlMetaStore
    from airfoil.testing.records import make_execution

    work = temp_dir(prefix="airfoil-bench-")
    meta = SqlMetaStore(f"sqlite:///{work}/o5.db")
    blobs = LocalBlobStore(os.path.join(work, "blobs"))
    task = TaskSpec(name="m.inc", version="v1", interface=Interface(), module="m", qualname="inc")
    count = [0]

    def execution(hooks: Hooks) -> None:
        count[0] += 1
        eid = f"o5e{count[0]}"
        meta.write(StoreBatch(execution=make_execution(eid)))
        for i in range(100):
            req = AttemptRequest(
                execution_id=eid, node_id=f"n{i}", attempt=1, task=task, inputs={}, blob_url=""
            )
            res = AttemptResult(
                execution_id=eid, node_id=f"n{i}", attempt=1, started_at=1.0, ended_at=2.0
            )
            hooks.attempt_ended(req, res)
        if isinstance(hooks, ObservingHooks):
            assert hooks.flush_history() == 100  # as at the execution's end

    observing, plain = ObservingHooks(meta, blobs), Hooks()
    with_history: list[float] = []
    without: list[float] = []
    for _ in range(5):  # interleaved, so load from other processes hits both alike
        without += measure(lambda: execution(plain), runs=5)
        with_history += measure(lambda: execution(observing), runs=5)
    report(
        "O5 task history per ended attempt (100 hook calls + 1 batch write)",
        with_history,
        per=100,
        baseline=without,
    )
    print("   (baseline 'plain Python' = the same hook calls on hooks that record nothing)")
    meta.close()


def o6() -> None:
    import json
    import statistics
    import time

    import msgspec

    from airfoil.core.experiments import runs_table, series_stat
    from airfoil.core.metrics import MetricSeries
    from airfoil.core.records import StoreBatch, Value
    from airfoil.server._experiments import runs
    from airfoil.store.sql import SqlMetaStore
    from airfoil.testing.records import make_execution

    def jv(v: object) -> Value:
        data = json.dumps(v).encode()
        return Value(hash=f"{abs(hash(data)):064d}"[-64:], format="json", inline=data, size=8)

    def series(eid: str, node: str, name: str, n: int, scale: float) -> MetricSeries:
        return MetricSeries(
            execution_id=eid, node_id=node, attempt=1, task="mod.train", name=name,
            steps=list(range(n)), values=[scale / (i + 1) for i in range(n)],
            times=[1000.0 + i for i in range(n)],
        )  # fmt: skip

    urls = [f"sqlite:///{temp_dir(prefix='airfoil-bench-')}/o6.db"]
    if os.environ.get("AIRFOIL_BENCH_PG_URL"):
        urls.append(os.environ["AIRFOIL_BENCH_PG_URL"])
    print(f"   load average {os.getloadavg()[0]:.1f}")
    for url in urls:
        store = SqlMetaStore(url)
        try:
            for e in range(1000):
                eid = f"o6e{e:04d}"
                rec = msgspec.structs.replace(
                    make_execution(eid, created_at=1000.0 + e, workflow="mod.train"),
                    inputs={"lr": jv(0.001 * (e + 1)), "epochs": jv(e % 7)},
                    phase="succeeded",
                )
                store.write(StoreBatch(execution=rec))
                store.put_metric_series(
                    [series(eid, "n0", "loss", 1000, 1 + e), series(eid, "n1", "acc", 10, 0.5)]
                )

            def table(store: SqlMetaStore = store) -> None:
                t = runs(store, "proj", "mod.train", last=1000, sort="loss:min")
                assert len(t.rows) == 1000 and t.rows[0].id == "o6e0000"

            def decoding(store: SqlMetaStore = store) -> None:
                recs = store.list_executions(project="proj", workflow="mod.train", limit=1000)
                stats = [series_stat(s) for r in recs for s in store.metric_series(r.id)]
                t = runs_table("mod.train", recs, stats, sort="loss:min")
                assert len(t.rows) == 1000

            def cpu(fn: object) -> float:
                t0 = time.process_time()
                fn()  # type: ignore[operator]
                return time.process_time() - t0

            fast: list[float] = []
            slow: list[float] = []
            fast_cpu: list[float] = []
            slow_cpu: list[float] = []
            for _ in range(3):  # interleaved, so load from other processes hits both alike
                fast += measure(table, runs=3)
                slow += measure(decoding, runs=1, warmup=0)
                fast_cpu.append(cpu(table))
                slow_cpu.append(cpu(decoding))
            kind = url.split(":")[0].split("+")[0]
            report(f"O6 runs table of 1,000 runs ({kind})", fast, baseline=slow, budget="fast")
            print(
                f"   (baseline 'plain Python' = decoding every series); CPU medians "
                f"{statistics.median(fast_cpu) * 1000:.1f} ms vs "
                f"{statistics.median(slow_cpu) * 1000:.1f} ms"
            )
        finally:
            store.close()


if __name__ == "__main__":
    chosen = {a.upper() for a in sys.argv[1:]} or {"O1", "O2", "O3", "O4", "O5", "O6"}
    if "O1" in chosen:
        o1()
    if "O2" in chosen:
        o2()
    if "O3" in chosen:
        o3()
    if "O4" in chosen:
        o4()
    if "O5" in chosen:
        o5()
    if "O6" in chosen:
        o6()
