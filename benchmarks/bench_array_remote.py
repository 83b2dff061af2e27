"""A task's read of an 80 MB NumPy array from a remote blob store: peak memory and CPU.

The store is an fsspec one that is not local (``file://`` through :class:`FsspecBlobStore`,
as an object store is read: no ``local_path``, so the reader fetches the blob). The array (a
seeded 10,000,000 float64, ~80 MB) is written once by this process; each reading is a fresh
child process (its own peak RSS), run with the ``src`` of each tree given, alternated, which
imports numpy and airfoil, then reads the value as a task's input is read
(``TypeEngine.to_python`` in a new ``ValueContext``) and sums it. Per reading: the read's
wall and user / kernel CPU, the peak RSS it added (Linux's ``VmHWM``, reset before it, less
the RSS before: a mapped file's touched pages count, though they are page cache the kernel
may drop), the peak of the memory Python and numpy allocated (``tracemalloc``: a mapping
allocates none), and the anonymous (not file-backed) RSS the task holds with its input
(``RssAnon`` after the read, less before). Then a second read in the same context (a second
task input of the same value).

    .venv/bin/python benchmarks/bench_array_remote.py SRC [SRC ...] [--pairs N]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _util import remote_array_trees

_CHILD = r"""
import json, resource, sys, time, tracemalloc
import msgspec
import numpy as np
from airfoil.core.records import Value
from airfoil.store.blob import FsspecBlobStore
from airfoil.types import TypeEngine, ValueContext

url, value_json, scratch = sys.argv[1:4]
value = msgspec.json.decode(value_json.encode(), type=Value)
engine = TypeEngine()
store = FsspecBlobStore(url)
assert store.local_path(value.uri) is None  # remote: the reader fetches


def status(field):
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))


out = {}
with ValueContext(store, scratch_dir=scratch) as ctx:
    for name in ("first", "again"):
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # resets the peak RSS (VmHWM) to the current RSS
        rss0, anon0 = status("VmRSS"), status("RssAnon")
        tracemalloc.start()
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        array = engine.to_python(value, np.ndarray, ctx)
        total = float(array.sum())
        wall = time.perf_counter() - t0
        held = status("RssAnon") - anon0  # the task's own memory while it holds its input
        del array
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        out[name] = {
            "wall": wall, "user": r1.ru_utime - r0.ru_utime, "sys": r1.ru_stime - r0.ru_stime,
            "rss_mb": (status("VmHWM") - rss0) / 1024, "traced_mb": peak / 2**20,
            "anon_mb": held / 1024, "sum": total,
        }
print(json.dumps(out))
"""


def main() -> None:
    args, home, url, value = remote_array_trees(__doc__, "airfoil-bench-remote-")
    got: dict[str, list[dict[str, dict[str, float]]]] = {s: [] for s in args.src}
    for i in range(args.pairs):
        for src in args.src:
            env = dict(os.environ, PYTHONPATH=os.path.abspath(src))
            scratch = os.path.join(home, f"scratch-{i}-{len(got[src])}-{os.getpid()}")
            done = subprocess.run(
                [sys.executable, "-c", _CHILD, url, value, scratch],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            got[src].append(json.loads(done.stdout))
    print(f"load: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f}; pairs: {args.pairs}")
    for src, runs in got.items():
        for name in ("first", "again"):
            line = [f"{src} {name}:"]
            for key in ("wall", "user", "sys", "rss_mb", "traced_mb", "anon_mb"):
                values = [r[name][key] for r in runs]
                line.append(
                    f"{key} {statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"
                )
            print(" ".join(line))


if __name__ == "__main__":
    main()
