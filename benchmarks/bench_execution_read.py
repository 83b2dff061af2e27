"""CPU of ``SqlMetaStore.get_execution`` for a fan-out's execution record, per read.

What a driver slot pays at each drive's start (``load_state`` reads the execution back) and
the API at each full read of an execution: the record's JSON (a fan-out of ``--width``
trivial tasks: its workflow spec is most of it) read from an SQLite store and decoded.
``--executions`` executions of the same workflow version are written, then each is read
``--reads`` times in turn; prints the CPU per read (``time.process_time``), median of
``--rounds`` rounds. With ``--base DIR`` (a tree holding ``src/``: ``git archive main src
benchmarks | tar -x -C DIR``) this tree and that one are measured alternately, each round in
a fresh process. ``--callgrind`` runs each process under ``valgrind --tool=callgrind`` and
prints instructions per read instead (the difference between a process that reads
``--reads`` more times and one that stops after the warm-up: deterministic, so the
machine's load does not move it).

    PYTHONPATH=src python benchmarks/bench_execution_read.py [--width 100] [--base /tmp/base]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _fan_spec(width: int, folder: str) -> object:
    """The workflow spec of a fan-out of ``width`` trivial tasks and a reducer (the one
    ``bench_drive_cpu`` drives)."""
    from bench_drive_cpu import FLOW

    from airfoil.cli._load import load_entity

    path = os.path.join(folder, "flow.py")
    with open(path, "w") as f:
        f.write(FLOW.replace("WIDTH", str(width)))
    return load_entity(path, "fan").spec  # type: ignore[union-attr]


def _child(width: int, executions: int, reads: int) -> None:
    """One measurement: prints the CPU seconds of ``reads`` rounds of reads."""
    from airfoil.core.records import ExecutionRecord, StoreBatch
    from airfoil.store.sql import SqlMetaStore

    with tempfile.TemporaryDirectory() as tmp:
        spec = _fan_spec(width, tmp)
        store = SqlMetaStore(f"sqlite:///{tmp}/meta.db")
        ids = [f"e{i}" for i in range(executions)]
        for eid in ids:
            record = ExecutionRecord(
                id=eid,
                workflow=spec.name,  # type: ignore[attr-defined]
                version=spec.version,  # type: ignore[attr-defined]
                phase="queued",
                spec=spec,  # type: ignore[arg-type]
                inputs={},
                created_at=time.time(),
            )
            store.write(StoreBatch(execution=record))
        for eid in ids:  # warm-up: the connection, the statements, the first decode
            store.get_execution(eid)
        t0 = time.process_time()
        for _ in range(reads):
            for eid in ids:
                store.get_execution(eid)
        took = time.process_time() - t0
        store.close()
    print(f"cpu {took!r} reads {reads * executions}", flush=True)


def _run(src: str, args: argparse.Namespace, reads: int) -> tuple[float, int | None]:
    env = {**os.environ, "PYTHONPATH": src}
    cmd = [sys.executable, os.path.abspath(__file__), "--child", str(reads)]
    cmd += ["--width", str(args.width), "--executions", str(args.executions)]
    out_file = None
    if args.callgrind:
        out_file = tempfile.mktemp(prefix="callgrind.")
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", *cmd]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    cpu = float(re.search(r"cpu (\S+)", done.stdout).group(1))  # type: ignore[union-attr]
    if out_file is None:
        return cpu, None
    with open(out_file) as f:
        total = int(re.search(r"^summary: (\d+)", f.read(), re.M).group(1))  # type: ignore[union-attr]
    os.unlink(out_file)
    return cpu, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--width", type=int, default=100)
    ap.add_argument("--executions", type=int, default=10)
    ap.add_argument("--reads", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--base", default=None)
    ap.add_argument("--callgrind", action="store_true")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        _child(args.width, args.executions, args.child)
        return
    trees = {"this tree": os.path.join(ROOT, "src")}
    if args.base:
        trees["base"] = os.path.join(args.base, "src")
    per: dict[str, list[float]] = {name: [] for name in trees}
    n = args.reads * args.executions
    for _ in range(args.rounds):
        for name, src in trees.items():
            if args.callgrind:
                _, more = _run(src, args, args.reads)
                _, warm = _run(src, args, 0)
                assert more is not None and warm is not None
                per[name].append((more - warm) / n)
            else:
                cpu, _ = _run(src, args, args.reads)
                per[name].append(cpu / n * 1e6)
    unit = "instructions" if args.callgrind else "us of CPU"
    for name, values in per.items():
        shown = ", ".join(f"{v:,.0f}" if args.callgrind else f"{v:.1f}" for v in values)
        print(
            f"{name}: {statistics.median(values):,.1f} {unit} per get_execution "
            f"(rounds: {shown}); fan-out of {args.width}, {args.executions} executions of one "
            f"version, load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
