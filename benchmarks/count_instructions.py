"""Instruction counts of M1, B1 and D0/D1 (callgrind), steady against a loaded machine.

Wall time on a shared machine moves 2x between runs of the same code; the number of
instructions a run executes does not. This script runs a benchmark's workload under
``valgrind --tool=callgrind`` twice: once with 2 warm-up runs only, once with the same 2
warm-up runs and ``N`` more. Their difference divided by ``N`` is the cost of one warm run,
without the process's start-up, imports and first-run costs.

    python benchmarks/count_instructions.py M1 B1          # both, N=4
    python benchmarks/count_instructions.py --runs 2 M1
    python benchmarks/count_instructions.py D0 D1          # airfoil's decide(), see below

``A1`` is B1's attempts alone: 100 in-process attempts of its task (``inc``, the same
request each time, its log key set) under one inline executor session, no engine or store
around them: the attempt runtime's own cost, ~1/100 of it an attempt.

``D1`` is one ``decide()`` of the default ``airfoil`` policy on ``bench_scheduler``'s state
(10,000 waiting, 1,000 running, 128 nodes, reasons explained); ``D0`` the same with
``due_share=None`` (no cap on due work), to price the cap; ``D2`` and ``D3`` the next
decision and the one after on that state (each earlier decision applied first); ``F1`` to
``F3`` the same on ``bench_scheduler.fragmented_state`` (the default's worst case).

To compare two trees (e.g. ``main`` and a branch), run it with each tree's ``src`` on
``PYTHONPATH``. Time spent in the kernel (``write(2)``, file I/O) is not counted.

A reading is repeatable only if the two processes differ by the ``N`` runs alone; two things
made them differ by more, and one reading in a few came out far off the others (five
invocations in a row read 55.7, 56.6, 60.4, 54.0 and 56.2 M; two read -265 M):

- Bytecode. With ``PYTHONDONTWRITEBYTECODE`` set (as in this project's sessions), every
  process compiled each module that had no ``.pyc`` from source: ~1.29 G instructions for
  airfoil's modules, against 3.31 G for the whole 2-run process. Whether the ``.pyc`` were
  there changed whenever another process wrote them (the unit tier's import test runs
  ``compileall`` on ``src/airfoil``): a 2-run process counted before that and the 2+4-run
  one after read -265 M a run; both after it, 2026.3 and 2248.9 M (55.7 M a run). Each count
  now first runs the child natively and uncounted with bytecode writing on, so every module
  the workload imports has its ``.pyc``; the counted processes only read them.
- Wall time. Under valgrind a run takes seconds where a native warm run takes milliseconds
  and never gets to what a drive does on a timer, so each is put out of reach in the counted
  process: the journal's fold (``GroupCommit``'s ``max_s``; left on, B1 read 64.6-82.5 M for
  trees 0.9x apart), the local run's read of terminate requests (``TerminateWatch``, every
  0.5 s: 2 reads in 4 runs taking 4.4 s under valgrind, more the more the host's load
  stretched them), the lease's beat (``EngineSettings.lease_ttl_s`` / 3, 10 s) and the
  task history's write once its oldest run has waited ``HISTORY_MAX_WAIT_S`` (2 s: natively
  a B1 run writes its 100 runs in one transaction as it ends; a run stretched past 2 s would
  write them in more, as many as the host's load made. Not seen at load 2-15, where B1's
  2+8-run process read 3806.0 M without it and 3806.1 M with it, 7 December).

Garbage collection is not a cause (natively the same four young collections fall in the 4
counted runs of every process) and is left on: its cost is part of a run. Nor is the hash
seed (two 2-run processes with random seeds read 3311.7 and 3311.6 M). With both fixes, five
invocations (two at a time, load average 10-13, 7 December) read 56.5, 55.9, 56.7, 56.2 and
54.3 M: within 4%, the low one not explained; compare trees by medians of a few invocations.
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
from airfoil.engine import _group_commit, control, runner
from airfoil.executors import observe

# Under valgrind a run takes seconds, not milliseconds: what a drive does on wall time would
# be counted as often as the host's load stretches the run. Each is put out of reach, as a
# native warm run (a few ms) never gets to it.


def _patch(cls, **far):
    init = cls.__init__

    def patched(self, *a, **k):
        init(self, *a, **{{**k, **far}})

    cls.__init__ = patched


_patch(_group_commit.GroupCommit, max_s=1e6)  # the journal's fold every max_s
_patch(control.TerminateWatch, every_s=1e6)  # the read of terminate requests every 0.5 s
_patch(runner.EngineSettings, lease_ttl_s=1e6)  # the lease's beat every ttl / 3 (10 s)
observe.HISTORY_MAX_WAIT_S = 1e6  # the task history's write once its oldest run waited 2 s
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
        # Native and uncounted, writing the bytecode of every module the workload imports:
        # a counted process that compiled a module from source (none written yet, or
        # PYTHONDONTWRITEBYTECODE set) counted ~1.3 G instructions more than one that read it.
        writes = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        subprocess.run([sys.executable, script, which, str(extra)], env=writes, check=True)
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
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},  # reads bytecode, never writes
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
        if which not in ("M1", "B1", "A1", "D0", "D1", "D2", "D3", "F1", "F2", "F3"):
            parser.error(
                f"unknown benchmark {which!r}: choose M1, B1, A1, D0, D1, D2, D3, F1, F2 or F3"
            )
        base = count(which, 0)
        more = count(which, args.runs)
        per_run = (more - base) / args.runs
        print(f"{which}: {per_run / 1e6:.1f} M instructions per warm run", flush=True)


if __name__ == "__main__":
    main()
