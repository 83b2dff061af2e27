"""The prediction service's drift tracker (run on every ``/predict``: ``add_array`` of the
float array the service builds for the predictor anyway; the baseline's ``add`` of the rows):
cost per request beside a baseline tracker (the code in ``--baseline DIR/src``, e.g. ``git
archive main src``), alternated A/B in one process, so both see the same load.

D1  one row of 64 features per call (the digits model of bench_serve.py's S1), 2,000 calls;
D2  a batch of 1,000 rows of 64 features per call, 5 calls.
Each figure: the median of ``--rounds`` rounds (default 7) of microseconds per call.

    git archive main src | tar -x -C /tmp/base
    python benchmarks/bench_drift.py --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import statistics
import sys
import time
from typing import Any

import numpy as np


def _tracker_class(src: str) -> Any:
    path = os.path.join(src, "airfoil", "ml", "_serve.py")
    spec = importlib.util.spec_from_file_location(f"_serve_{abs(hash(src))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DriftTracker


def _per_call_us(cls: Any, rows: list[dict[str, float | None]], calls: int, width: int) -> float:
    names = [f"x{i}" for i in range(64)]
    tracker = cls(names, {n: (0.0, 1.0, 0.0) for n in names})
    batches: list[Any] = [rows[i * width : (i + 1) * width] for i in range(calls)]
    add = tracker.add
    if hasattr(tracker, "add_array"):  # what /predict calls: the array it builds anyway
        batches = [np.array([[r[n] for n in names] for r in b], dtype=float) for b in batches]
        add = tracker.add_array
    start = time.perf_counter()
    for batch in batches:
        add(batch)
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", required=True, help="a folder holding the baseline's src/")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    sys.path.insert(0, here)
    classes = {
        "this": _tracker_class(here),
        "baseline": _tracker_class(os.path.join(args.baseline, "src")),
    }
    rng = random.Random(7)
    rows: list[dict[str, float | None]] = [
        {f"x{i}": rng.gauss(8.0, 4.0) for i in range(64)} for _ in range(5000)
    ]
    for label, calls, width in (("D1 1 row x 64", 2000, 1), ("D2 1000 rows x 64", 5, 1000)):
        got: dict[str, list[float]] = {k: [] for k in classes}
        for _ in range(args.rounds):
            for name, cls in classes.items():  # alternated
                got[name].append(_per_call_us(cls, rows, calls, width))
        this, base = statistics.median(got["this"]), statistics.median(got["baseline"])
        load = os.getloadavg()[0]
        print(
            f"{label}: this {this:.1f} us/call, baseline {base:.1f} us/call, "
            f"ratio {this / base:.2f} (medians of {args.rounds} rounds; load {load:.1f})"
        )


if __name__ == "__main__":
    main()
