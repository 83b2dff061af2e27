"""CPU cost of opening the model registry on a plain SQLite home, as a service start does
(`airfoil serve`, a deployment's cold replica), two trees A/B.

Each run is a fresh process with the tree's `src` first on PYTHONPATH: it imports what
`serve_model` imports before it opens the registry (`airfoil.ml._registry`,
`airfoil.ml._serve`), then times `local_registry()` (the artifact store on the home's
migrated SQLite file and the blob store) in process CPU seconds and counts the `airfoil.*`
modules that step loaded. The trees alternate run by run; printed per tree: the median and
spread of that CPU time, the modules, and the load average before and after. Compile both
trees first (`python -m compileall -q src/airfoil` in each).

    python benchmarks/bench_registry_open.py [--runs 15] TREE [BASE_TREE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

_CHILD = """
import json, sys, time
import airfoil.ml._registry, airfoil.ml._serve
from airfoil.ml._registry import local_registry
before = set(sys.modules)
t0 = time.process_time()
local_registry()
cpu = time.process_time() - t0
loaded = sorted(m for m in set(sys.modules) - before if m.startswith("airfoil"))
print(json.dumps({"cpu": cpu, "modules": loaded}))
"""


def _run(tree: str, home: str) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=os.path.join(tree, "src"), AIRFOIL_HOME=home)
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], env=env, check=True, capture_output=True, text=True
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", help="checkouts to compare (1 or 2)")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        homes = {}
        for i, tree in enumerate(args.trees):
            homes[tree] = os.path.join(tmp, f"home{i}")
            env = dict(os.environ, PYTHONPATH=os.path.join(tree, "src"))
            url = "sqlite:///" + os.path.join(homes[tree], "airfoil.db")
            os.makedirs(homes[tree])
            code = f"from airfoil.store.sql import migrate; migrate({url!r})"
            subprocess.run([sys.executable, "-c", code], env=env, check=True)
        cpus: dict[str, list[float]] = {t: [] for t in args.trees}
        modules: dict[str, object] = {}
        for _ in range(args.runs):
            for tree in args.trees:
                got = _run(tree, homes[tree])
                cpus[tree].append(float(str(got["cpu"])))
                modules[tree] = got["modules"]
    for tree in args.trees:
        xs = cpus[tree]
        loaded = modules[tree]
        count = len(loaded) if isinstance(loaded, list) else 0
        print(
            f"{tree}: local_registry() {statistics.median(xs) * 1000:.1f} ms CPU median of "
            f"{len(xs)} ({min(xs) * 1000:.1f}-{max(xs) * 1000:.1f}); {count} airfoil modules"
        )
    print(f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    main()
