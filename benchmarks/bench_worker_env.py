"""What starting the process executor's workers without the platform's credentials costs.

A forkserver whose environment holds a denied variable (``AIRFOIL_SECRETS_KEY``...: see
airfoil.core.worker_env) replaces itself once with a clean copy (``execve``) before its
preloads: one more interpreter start per forkserver, none per worker or task. This
measures a cold executor's start (the forkserver and ``--workers`` workers, ``warm()``)
in a fresh process each, alternating a run with the key in the environment (the
forkserver re-execs) and one without (it does not): the wall time of ``warm()`` and the
CPU of the whole process tree (``wait4`` of the child: the forkserver and the workers are
reaped under it).

    python benchmarks/bench_worker_env.py --pairs 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import functools, json, sys, tempfile, time
from airfoil.executors.process import ProcessExecutor
from airfoil.runtime.worker import worker_runtime

kept = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)
blob = kept.name  # removed at exit
ex = ProcessExecutor(blob, int(sys.argv[1]), runtime=functools.partial(worker_runtime, ()))
t0 = time.perf_counter()
ex.warm()
t1 = time.perf_counter()
print(json.dumps({"warm_s": t1 - t0}))
ex.close()
"""


def sample(key: bool, workers: int) -> dict[str, float]:
    env = dict(os.environ)
    env.pop("AIRFOIL_SECRETS_KEY", None)
    if key:
        env["AIRFOIL_SECRETS_KEY"] = "x5-0s8Zt6b8QGqAGRpJjqM3ZlLbQ1xv3Q8m1yW8T5bA="
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(workers)],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
        )
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out
    row: dict[str, float] = json.loads(out)
    row["cpu_s"] = usage.ru_utime + usage.ru_stime
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rows: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for i in range(args.pairs):
        for key in (True, False) if i % 2 == 0 else (False, True):
            rows[key].append(sample(key, args.workers))
    print(f"load average {os.getloadavg()[0]:.1f}; {args.pairs} alternated pairs, medians")
    for key in (False, True):
        r = rows[key]
        print(
            f"  {'key set (re-exec)' if key else 'no key (no re-exec)':22} "
            f"warm {statistics.median(x['warm_s'] for x in r) * 1000:7.1f} ms   "
            f"process tree CPU {statistics.median(x['cpu_s'] for x in r) * 1000:7.1f} ms"
        )


if __name__ == "__main__":
    main()
