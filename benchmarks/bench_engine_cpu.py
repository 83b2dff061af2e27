"""CPU time of M1, B1 (and W1) per warm run, optionally beside another tree in one invocation.

Each measurement is a fresh process that runs the workload 2 times to warm up and then
``--runs`` times, timing each run with ``time.process_time`` (CPU of this process: other
sessions' load on a shared machine slows it far less than wall time) and with wall time.
With ``--base DIR`` (a tree holding ``src/``, e.g. ``git archive main src benchmarks | tar -x
-C DIR``) the two trees are measured alternately, ``--rounds`` times each, so both see the
same machine.

    python benchmarks/bench_engine_cpu.py M1 B1 --base /tmp/base --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CHILD = """
import os, sys, time
sys.path.insert(0, {here!r})
from _util import temp_dir, workload
os.environ["AIRFOIL_HOME"] = temp_dir(prefix="airfoil-cpu-")
which, runs = sys.argv[1], int(sys.argv[2])
run = workload(which)
for _ in range(2):
    run()
for _ in range(runs):
    c0, w0 = time.process_time(), time.perf_counter()
    run()
    print(time.process_time() - c0, time.perf_counter() - w0)
"""


def sample(tree: str, which: str, runs: int) -> tuple[list[float], list[float]]:
    """(CPU seconds, wall seconds) of ``runs`` warm runs in a fresh process on ``tree``."""
    env = dict(os.environ, PYTHONPATH=os.path.join(tree, "src"))
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(here=HERE), which, str(runs)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pairs = [tuple(map(float, line.split())) for line in out.splitlines() if line.strip()]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def fmt(which: str, values: list[float]) -> str:
    # B1: 100 tasks; W1: 50 workflow calls
    scale, unit = {"M1": (1.0, "s"), "W1": (20.0, "ms/call")}.get(which, (10.0, "ms/task"))
    med = statistics.median(values) * scale
    return f"{med:.4f} {unit} ({min(values) * scale:.4f}-{max(values) * scale:.4f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmarks", nargs="*", default=["M1", "B1"])
    parser.add_argument("--base", help="another tree (holding src/) to measure alternately")
    parser.add_argument("--runs", type=int, default=9, help="warm runs per process")
    parser.add_argument("--rounds", type=int, default=2, help="processes per tree")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}", flush=True)
    trees = [("this tree", ROOT)] + ([("base", os.path.abspath(args.base))] if args.base else [])
    for which in (w.upper() for w in args.benchmarks):
        if which not in ("M1", "B1", "W1"):
            parser.error(f"unknown benchmark {which!r}: choose M1, B1 or W1")
        for r in range(args.rounds):
            for name, tree in trees:
                cpu, wall = sample(tree, which, args.runs)
                print(
                    f"{which} round {r + 1} {name:9}: CPU median {fmt(which, cpu)}; "
                    f"wall median {fmt(which, wall)}; n={len(cpu)}",
                    flush=True,
                )
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}", flush=True)


if __name__ == "__main__":
    main()
