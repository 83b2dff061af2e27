"""Instruction counts of M1, B1 and D0/D1 (callgrind), steady against a loaded machine.

Wall time on a shared machine moves 2x between runs of the same code; the number of
instructions a run executes does not. This script runs a benchmark's workload under
``valgrind --tool=callgrind`` twice: once with 2 warm-up runs only, once with the same 2
warm-up runs and ``N`` more. Their difference divided by ``N`` is the cost of one warm run,
without the process's start-up, imports and first-run costs.

    python benchmarks/count_instructions.py M1 B1          # both, N=4
    python benchmarks/count_instructions.py --runs 2 M1
    python benchmarks/count_instructions.py D0 D1          # airfoil's decide(), see below

``D1`` is one ``decide()`` of the default ``airfoil`` policy on ``bench_scheduler``'s state
(10,000 waiting, 1,000 running, 128 nodes, reasons explained); ``D0`` the same with
``due_share=None`` (no cap on due work), to price the cap; ``D2`` and ``D3`` the next
decision and the one after on that state (each earlier decision applied first); ``F1`` to
``F3`` the same on ``bench_scheduler.fragmented_state`` (the default's worst case).

To compare two trees (e.g. ``main`` and a branch), run it with each tree's ``src`` on
``PYTHONPATH``. Time spent in the kernel (``write(2)``, file I/O) is not counted. The
journal's fold on time (``GroupCommit``'s ``max_s``) is switched off in the counted process:
under valgrind a run takes seconds, and how many folds the lease thread made then depended on
the host's load (B1 read 64.6-82.5 M instructions a run before, for trees 0.9x apart).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = """
import os, sys
sys.path.insert(0, {here!r})
from _util import temp_dir, workload
os.environ["AIRFOIL_HOME"] = temp_dir(prefix="airfoil-cg-")
which, extra = sys.argv[1], int(sys.argv[2])
from airfoil.engine import _group_commit

_init = _group_commit.GroupCommit.__init__


def _no_time_fold(self, *a, **k):
    # A run under valgrind takes seconds: folds every max_s would depend on the host's load.
    k["max_s"] = 1e6
    _init(self, *a, **k)


_group_commit.GroupCommit.__init__ = _no_time_fold
run = workload(which)
for _ in range(2 + extra):
    run()
"""


def count(which: str, extra: int) -> int:
    """Instructions executed by a process running ``which`` 2 + ``extra`` times."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        script = os.path.join(tmp, "child.py")
        with open(script, "w") as f:
            f.write(CHILD.format(here=HERE))
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                script,
                which,
                str(extra),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        match = re.search(r"Collected : (\d+)", proc.stderr)
        if match is None:
            raise RuntimeError(f"no instruction count in callgrind's output:\n{proc.stderr}")
        return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmarks", nargs="*", default=["M1", "B1"])
    parser.add_argument("--runs", type=int, default=4, help="extra warm runs to count")
    args = parser.parse_args()
    for which in args.benchmarks:
        which = which.upper()
        if which not in ("M1", "B1", "D0", "D1", "D2", "D3", "F1", "F2", "F3"):
            parser.error(
                f"unknown benchmark {which!r}: choose M1, B1, D0, D1, D2, D3, F1, F2 or F3"
            )
        base = count(which, 0)
        more = count(which, args.runs)
        per_run = (more - base) / args.runs
        print(f"{which}: {per_run / 1e6:.1f} M instructions per warm run", flush=True)


if __name__ == "__main__":
    main()
