"""What a server's drive costs besides its tasks' batches: claims, the lease, the load, the
control inbox, the task runs, the release. On PostgreSQL.

A server's driver (``server._driver.Driver``, ``--slots`` slots, the inline executor: no
worker processes) drives ``--executions`` executions launched beforehand, of a workflow of
``--width`` trivial tasks plus a reducer (``--width 0``: one task, where the per-execution
cost is most of it), one after another per slot, claiming each as a server does. Prints
per execution the CPU of this process (the driver's threads and the inline tasks:
``time.process_time``, so other users of a shared machine slow it less than wall time) and
of the store's PostgreSQL backends (``/proc`` through psutil, found by their
``application_name``), and the statements this process sent (psycopg's cursor counted, by
their first word). With ``--base DIR`` (a tree holding
``src/``: ``git archive main src benchmarks | tar -x -C DIR``) the two trees are measured
alternately, ``--rounds`` times each, in fresh processes, and the medians and ratios are
printed.

    PYTHONPATH=src python benchmarks/bench_drive_round_trips.py [--executions 200 --width 0]
    python benchmarks/bench_drive_round_trips.py --base /tmp/base --rounds 5
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _util import temp_dir
from bench_idle import _cpu
from bench_server import FLOW, bench_schema, server_backends


def _count_statements() -> Counter[str]:
    """Count each statement psycopg's cursors execute, by its first word."""
    import psycopg

    counted: Counter[str] = Counter()
    execute = psycopg.Cursor.execute

    def counting(self: Any, query: Any, *args: Any, **kw: Any) -> Any:
        text = str(query).strip()
        counted[text.split(None, 1)[0].upper() if text else "?"] += 1
        return execute(self, query, *args, **kw)

    psycopg.Cursor.execute = counting  # type: ignore[method-assign]
    return counted


def _child(args: argparse.Namespace) -> dict[str, Any]:
    from airfoil.client._package import build_package
    from airfoil.core.clock import SystemClock
    from airfoil.engine.launcher import Launcher
    from airfoil.executors.inline import InlineExecutor
    from airfoil.local import Runtime, spec_of
    from airfoil.runtime._packages import package_key, package_ref
    from airfoil.runtime.worker import WorkerRuntime
    from airfoil.server._driver import Driver
    from airfoil.server._registry import Registry
    from airfoil.settings import AirfoilSettings
    from airfoil.store.blob import open_blob_store
    from airfoil.store.sql import SqlMetaStore
    from airfoil.store.stores import NoSecrets, Stores
    from airfoil.types import ValueContext, default_type_engine

    root = Path(temp_dir(prefix="airfoil-drive-rt-"))
    os.environ["AIRFOIL_PACKAGE_CACHE"] = str(root / "packages")
    code = root / "code"
    code.mkdir()
    (code / "bench_rt_flow.py").write_text(FLOW.replace("WIDTH", str(max(1, args.width))))
    sys.path.insert(0, str(code))
    import bench_rt_flow  # type: ignore[import-not-found]

    schemas = contextlib.ExitStack()  # the fresh schema, dropped at the end
    admin, schema, url = schemas.enter_context(bench_schema())
    meta = SqlMetaStore(url)
    registry = Registry(None, str(root / "home"))
    try:
        blob_url = str(root / "blobs")
        blobs = open_blob_store(blob_url)
        archive, sha = build_package(str(code))
        blobs.put_bytes(package_key(sha), archive)
        stores = Stores(meta, blobs, blob_url=blob_url, registry=registry)
        runtime = Runtime(AirfoilSettings(home=str(root / "home")), stores)
        launcher = Launcher(
            meta, clock=SystemClock(), capacity=lambda e: None, secrets=NoSecrets(), executor="x"
        )
        wf = bench_rt_flow.one if args.width == 0 else bench_rt_flow.fan
        x = default_type_engine().to_value(0, int, ValueContext(blobs=blobs))
        ref = package_ref(sha, blob_url)
        for _ in range(args.executions):
            launcher.launch(spec_of(wf), {"x": x}, code_root=ref)
        driver = Driver(
            runtime,
            slots=args.slots,
            lease_ttl_s=5.0,
            make_executor=lambda: InlineExecutor(open_blob_store(blob_url), WorkerRuntime()),
        )
        warm = args.slots  # each slot's first drive (imports, the package unpacked) left out
        counted = _count_statements()
        driver.start()
        while driver.drives_ended < warm:
            time.sleep(0.01)
        pids = server_backends(admin, schema)

        def backends() -> float:
            return _cpu(pids)

        counted.clear()
        ended0, c0, b0, w0 = driver.drives_ended, time.process_time(), backends(), time.time()
        while driver.drives_ended < args.executions:
            time.sleep(0.01)
        n = driver.drives_ended - ended0
        c1, b1, w1 = time.process_time(), backends(), time.time()
        statements = dict(counted)
        driver.stop()
    finally:
        registry.close()
        meta.close()
        schemas.close()
    return {
        "process_ms": (c1 - c0) / n * 1000,
        "postgres_ms": (b1 - b0) / n * 1000,
        "wall_ms": (w1 - w0) / n * 1000,
        "statements": {k: v / n for k, v in sorted(statements.items())},
    }


def _run(tree: str, args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(Path(tree) / "src"))
    cmd = [sys.executable, __file__, "--child", "--executions", str(args.executions)]
    cmd += ["--width", str(args.width), "--slots", str(args.slots)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--executions", type=int, default=200)
    ap.add_argument("--width", type=int, default=0)
    ap.add_argument("--slots", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--base", metavar="DIR", default=None)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args)))
        return
    here = str(Path(__file__).resolve().parent.parent)
    trees = {"this": here} if args.base is None else {"base": args.base, "this": here}
    got: dict[str, list[dict[str, Any]]] = {k: [] for k in trees}
    for r in range(args.rounds):
        for name, tree in trees.items():
            res = _run(tree, args)
            got[name].append(res)
            print(
                f"round {r + 1} {name}: per execution: this process {res['process_ms']:.2f} ms "
                f"of CPU, its PostgreSQL backends {res['postgres_ms']:.2f}, wall "
                f"{res['wall_ms']:.2f}; statements "
                + ", ".join(f"{k} {v:.2f}" for k, v in res["statements"].items())
                + f"; load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    med = {
        name: {k: statistics.median(r[k] for r in runs) for k in ("process_ms", "postgres_ms")}
        for name, runs in got.items()
    }
    tasks = args.width + 1 if args.width else 1
    for name, m in med.items():
        print(
            f"{name}: median per execution of {tasks} task(s): process {m['process_ms']:.2f} ms,"
            f" PostgreSQL {m['postgres_ms']:.2f} ms ({args.rounds} rounds)"
        )
    if "base" in med:
        b, t = med["base"], med["this"]
        print(
            f"ratio this/base: process {t['process_ms'] / b['process_ms']:.3f}, "
            f"PostgreSQL {t['postgres_ms'] / b['postgres_ms']:.3f}"
        )


if __name__ == "__main__":
    main()
