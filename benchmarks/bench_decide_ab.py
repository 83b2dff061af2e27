"""Decision CPU time of two or more source trees, alternating, on ``bench_scheduler``'s state.

Each round runs one subprocess per tree, in turn, so a change of the machine's load hits
every tree alike. A subprocess puts the tree's ``src`` and ``benchmarks`` first on
``sys.path``, builds ``bench_scheduler.steady_state`` (10,000 waiting, 1,000 running, 128
nodes) for each policy and times three chained decisions (first, next, the one after, each
applied before the next) in CPU time of the process (``time.process_time``, which other
processes on shared cores disturb far less than wall time): the median of 5 runs of 5 calls
each. The last lines give, per tree and policy, the median over the rounds, with the load
average seen during the runs.

Run, with a baseline extracted beside this tree (``git archive REV src benchmarks | tar -x
-C DIR`` and ``python -m compileall -q DIR/src``)::

    python benchmarks/bench_decide_ab.py --rounds 3 --policies airfoil,las . ../baseline
    python benchmarks/bench_decide_ab.py --fragmented --decisions 10 --policies airfoil . ../base

``--fragmented`` times ``bench_scheduler.fragmented_state`` instead (the default policy's
worst case: it moves work in every decision), ``--decisions`` chained decisions (3 by
default); the summary then also gives each tree's worst decision (the largest of the
per-decision medians over the rounds).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

_CHILD = """
import json, os, statistics, sys, time
tree, policies = sys.argv[1], sys.argv[2].split(",")
fragmented, decisions = sys.argv[3] == "fragmented", int(sys.argv[4])
sys.path[:0] = [os.path.join(tree, "src"), os.path.join(tree, "benchmarks")]
from bench_scheduler import fragmented_state, steady_state
out = {}
for policy in policies:
    state, now = fragmented_state(policy) if fragmented else steady_state(policy)
    figures = []
    for _ in range(decisions):
        state.decide(now)
        samples = []
        for _ in range(5):
            t0 = time.process_time()
            for _ in range(5):
                state.decide(now)
            samples.append((time.process_time() - t0) / 5)
        figures.append(statistics.median(samples))
        state.apply(state.decide(now), now)
        now += 1.0
    out[policy] = figures
print(json.dumps(out))
"""


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="decide() CPU time of source trees, A/B")
    parser.add_argument("trees", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--policies", default="airfoil,las")
    parser.add_argument("--fragmented", action="store_true")
    parser.add_argument("--decisions", type=int, default=3)
    args = parser.parse_args(argv[1:])
    for tree in args.trees:
        if (
            not (tree / "src").is_dir()
            or not (tree / "benchmarks" / "bench_scheduler.py").is_file()
        ):
            raise SystemExit(f"{tree}: expected a tree with src/ and benchmarks/bench_scheduler.py")
    results: dict[tuple[str, str], list[list[float]]] = {}
    loads: list[float] = []
    kind = "fragmented" if args.fragmented else "steady"
    print(
        f"decide() CPU time (ms) of {args.decisions} chained decisions, {kind} state; "
        f"load at start {os.getloadavg()}"
    )
    for round_ in range(1, args.rounds + 1):
        for tree in args.trees:
            t0 = time.perf_counter()
            child = subprocess.run(
                [sys.executable, "-c", _CHILD, str(tree), args.policies, kind, str(args.decisions)],
                capture_output=True,
                text=True,
                check=True,
                env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
            )
            loads.append(os.getloadavg()[0])
            for policy, figures in json.loads(child.stdout).items():
                results.setdefault((str(tree), policy), []).append(figures)
                shown = " / ".join(f"{f * 1e3:.2f}" for f in figures)
                print(
                    f"  round {round_} {tree!s:28s} {policy:8s} {shown}"
                    f"  (load {loads[-1]:.1f}, {time.perf_counter() - t0:.0f} s)",
                    flush=True,
                )
    print(f"medians over {args.rounds} rounds (load average {min(loads):.1f}-{max(loads):.1f}):")
    for (tree, policy), rounds in results.items():
        medians = [statistics.median(column) * 1e3 for column in zip(*rounds, strict=True)]
        print(f"  {tree:28s} {policy:8s} " + " / ".join(f"{m:.2f}" for m in medians))
        every = [f * 1e3 for figures in rounds for f in figures]
        print(
            f"  {'':28s} {'':8s} all decisions: median {statistics.median(every):.2f}, "
            f"worst {max(every):.2f}"
        )


if __name__ == "__main__":
    main(sys.argv)
