"""The engine's CPU per task in the server's shape, without the server or PostgreSQL.

One driver (this process's main thread) drives ``--executions`` fan-outs of ``--width``
trivial tasks plus a reducer, one after another, the way one server driver slot does
(``server._driver``): each execution is launched first (so its drive reads it back from the
store, ``load_state``), then driven by an :class:`~airfoil.engine.runner.Engine` over the
process executor with ``--workers`` worker processes, reporting its attempts to the
runtime's observability hooks as the server's executors do. The store is the in-memory one
(it encodes and decodes records as JSON, like the SQL stores, but with no database): what
is left is the engine's own work per task (state machine, admission, submit/poll and the
pipes, the drive's start) plus the memory store's encoding. ``--store postgresql`` drives
on a PostgreSQL store instead (a fresh schema of ``AIRFOIL_BENCH_PG_URL``, default the test
server; dropped at the end), with the server's ``process`` durability, so each batch is the
fenced one-statement write of a server's slot; ``--linger`` sets ``result_linger_s`` (the
server's slots wait 0.002 s for the attempts submitted with a result's).

Prints, per drive after ``--warm`` warm-up drives, the driver process's CPU per task
(``time.process_time``: this process only, so other users of a shared machine slow it far
less than wall time) and the workers' (``/proc`` through psutil), medians over the drives.
With ``--base DIR`` (a tree holding ``src/``: ``git archive main src benchmarks | tar -x -C
DIR``) the two trees are measured alternately, ``--rounds`` times each, in fresh processes.
``--profile FILE`` writes the driver's cProfile of the measured drives (read it as
proportions); ``--gc`` prints the collector's time per generation during them.

    PYTHONPATH=src python benchmarks/bench_drive_cpu.py [--executions 20 --width 100]
    python benchmarks/bench_drive_cpu.py --base /tmp/base --rounds 3
    python benchmarks/bench_drive_cpu.py --store postgresql --linger 0.002 --base /tmp/base
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from typing import Any

from _util import temp_dir

HERE = os.path.dirname(os.path.abspath(__file__))
PG_URL = os.environ.get("AIRFOIL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ROOT = os.path.dirname(HERE)

FLOW = textwrap.dedent(
    """
    import airfoil as af

    @af.task
    def inc(x: int) -> int:
        return x + 1

    @af.task
    def total(xs: list[int]) -> int:
        return sum(xs)

    @af.workflow
    def fan(x: int = 0) -> int:
        return total(xs=[inc(x=i) for i in range(WIDTH)])
    """
)


def _cpu_of(pids: list[int]) -> float:
    import psutil

    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


class _GcTimer:
    """Wall time of the collector per generation (gc.callbacks)."""

    def __init__(self) -> None:
        self.spent = [0.0, 0.0, 0.0]
        self.count = [0, 0, 0]
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            g = info["generation"]
            self.spent[g] += time.perf_counter() - self._t0
            self.count[g] += 1


def child(args: argparse.Namespace) -> dict[str, Any]:
    """Run the drives in this process; the figures as a dict."""
    from airfoil.engine.runner import Engine, EngineSettings
    from airfoil.executors.hooks import HookedExecutor
    from airfoil.executors.observe import ObservingHooks
    from airfoil.executors.process import ProcessExecutor
    from airfoil.runtime.worker import worker_runtime
    from airfoil.store.blob import LocalBlobStore
    from airfoil.store.memory import MemoryMetaStore
    from airfoil.types import ValueContext, default_type_engine

    root = temp_dir(prefix="airfoil-drive-cpu-")
    code = os.path.join(root, "code")
    os.makedirs(code)
    with open(os.path.join(code, "bench_drive_flow.py"), "w") as fh:
        fh.write(FLOW.replace("WIDTH", str(args.width)))
    sys.path.insert(0, code)
    import bench_drive_flow  # type: ignore[import-not-found]

    blob_dir = os.path.join(root, "blobs")
    blobs = LocalBlobStore(blob_dir)
    meta: Any
    schema = ""
    if args.store == "postgresql":
        import uuid

        from airfoil.store.sql import SqlMetaStore

        schema = f"airfoil_drive_{uuid.uuid4().hex[:8]}"
        _pg_schema(f'CREATE SCHEMA "{schema}"')
        atexit.register(_pg_schema, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # even failed
        sep = "&" if "?" in PG_URL else "?"
        meta = SqlMetaStore(f"{PG_URL}{sep}options=-csearch_path%3D{schema}")
    else:
        meta = MemoryMetaStore()
    inner: Any
    if args.executor == "inline":
        from airfoil.executors.inline import InlineExecutor
        from airfoil.runtime.worker import WorkerRuntime

        inner = InlineExecutor(blobs, WorkerRuntime())
    else:
        inner = ProcessExecutor(blob_dir, args.workers, runtime=worker_runtime)
    executor = HookedExecutor(inner, ObservingHooks(meta, blobs))
    engine = Engine(
        meta,
        blobs,
        executor,
        blob_url=blob_dir,
        settings=EngineSettings(
            lease_ttl_s=5.0, max_parallel=args.workers, result_linger_s=args.linger
        ),
    )
    inputs = {"x": default_type_engine().to_value(0, int, ValueContext(blobs=blobs))}
    spec = bench_drive_flow.fan.spec
    tasks = args.width + 1
    per_drive: list[float] = []
    timer = _GcTimer()
    pids: list[int] = []
    w0 = 0.0
    profiler: Any = None
    total = args.warm + args.executions
    for i in range(total):
        measured = i >= args.warm
        if measured and i == args.warm:
            if args.gc:
                gc.callbacks.append(timer)
            if args.profile:
                import cProfile

                profiler = cProfile.Profile(time.thread_time)
                profiler.enable()
        if measured and i == args.warm:
            pids = inner.worker_pids() if args.executor == "process" else []
            w0 = _cpu_of(pids)
            if args.freeze:  # what the server's engine process does once warm
                gc.collect()
                gc.freeze()
        eid = engine.launch(spec, inputs, code_root=code).id
        c0 = time.process_time()
        record = engine.drive(eid)
        c1 = time.process_time()
        assert record.phase == "succeeded", record.error
        if measured:
            per_drive.append((c1 - c0) / tasks)
    # (per run, not per drive: the kernel counts a process's CPU in 10 ms ticks)
    workers = (_cpu_of(pids) - w0) / (tasks * args.executions) if args.executions else 0.0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    if args.gc:
        gc.callbacks.remove(timer)
    executor.close()
    if schema:
        meta.close()
    return {
        "driver_ms": statistics.median(per_drive) * 1000,
        "driver_min_ms": min(per_drive) * 1000,
        "driver_max_ms": max(per_drive) * 1000,
        "workers_ms": workers * 1000,
        "gc_ms": [s * 1000 for s in timer.spent],
        "gc_count": timer.count,
    }


def _pg_schema(statement: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(statement))
    engine.dispose()


def _sample(tree: str, args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=os.path.join(tree, "src"))
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        "--executions",
        str(args.executions),
        "--width",
        str(args.width),
        "--workers",
        str(args.workers),
        "--warm",
        str(args.warm),
    ]
    cmd += ["--executor", args.executor, "--store", args.store, "--linger", str(args.linger)]
    if args.gc:
        cmd.append("--gc")
    if args.freeze:
        cmd.append("--freeze")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _line(name: str, r: dict[str, Any]) -> str:
    text = (
        f"{name}: driver {r['driver_ms']:.4f} ms/task ({r['driver_min_ms']:.4f}-"
        f"{r['driver_max_ms']:.4f}), workers {r['workers_ms']:.4f} ms/task"
    )
    if any(r["gc_count"]):
        gcs = ", ".join(
            f"gen{g} {ms:.0f} ms ({n})"
            for g, (ms, n) in enumerate(zip(r["gc_ms"], r["gc_count"], strict=True))
        )
        text += f"; collector {gcs}"
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--executions", type=int, default=20)
    ap.add_argument("--width", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--warm", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--base", metavar="DIR", default=None)
    ap.add_argument("--profile", metavar="FILE", default=None)
    ap.add_argument("--gc", action="store_true")
    ap.add_argument("--freeze", action="store_true", help="gc.freeze() once warm (as the server)")
    ap.add_argument("--executor", choices=("process", "inline"), default="process")
    ap.add_argument("--store", choices=("memory", "postgresql"), default="memory")
    ap.add_argument("--linger", type=float, default=0.0, help="result_linger_s (server: 0.002)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child or (args.base is None and args.profile):
        result = child(args)
        print(json.dumps(result) if args.child else _line("this tree", result), flush=True)
        return
    trees = [("this tree", ROOT)] + ([("base", args.base)] if args.base else [])
    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
    got: dict[str, list[float]] = {name: [] for name, _ in trees}
    for _ in range(args.rounds):
        for name, tree in trees:
            r = _sample(tree, args)
            got[name].append(r["driver_ms"])
            print(_line(name, r), flush=True)
    for name, values in got.items():
        print(f"{name}: median of medians {statistics.median(values):.4f} ms/task", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
