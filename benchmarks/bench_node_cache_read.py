"""A task's read of an 80 MB NumPy array on a Ray node: through the node's blob cache in front
of a remote store, what the read writes to the node's disk and what it costs (issue 17).

The store is an fsspec one that is not local (``file://`` through :class:`FsspecBlobStore`:
no ``local_path``, so a reader fetches the blob). On a Ray node a worker reads it through
``CachingBlobStore`` over the node's ``NodeBlobCache``, as ``AttemptWorker`` builds it. The
array (a seeded 10,000,000 float64, ~80 MB) is written once by this process; each read is a
fresh child process (a worker's first read), run with the ``src`` of each tree given,
alternated, in two cases:

- ``miss``: the node's cache empty (the first attempt on the node to read it);
- ``hit``: the cache holding it (another attempt on the node, in a new worker process).

Per read: the bytes the process wrote (``wchar`` in ``/proc/self/io``: every ``write``,
``sendfile`` and ``copy_file_range``), the bytes the node's disk holds after it (the cache
folder and the attempt's scratch folder, each file counted once per inode: a hard link is
no second copy), the read's wall and user / kernel CPU (the read and a sum of the array).

    .venv/bin/python benchmarks/bench_node_cache_read.py SRC [SRC ...] [--pairs N]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _util import remote_array_trees

_CHILD = r"""
import json, os, resource, sys, time
import msgspec
import numpy as np
from airfoil.core.records import Value
from airfoil.executors._blob_cache import CachingBlobStore, NodeBlobCache
from airfoil.store.blob import FsspecBlobStore
from airfoil.types import TypeEngine, ValueContext

url, value_json, cache_dir, scratch = sys.argv[1:5]
value = msgspec.json.decode(value_json.encode(), type=Value)
engine = TypeEngine()
store = FsspecBlobStore(url)
assert store.local_path(value.uri) is None  # remote: the reader fetches
blobs = CachingBlobStore(store, NodeBlobCache(cache_dir, 1 << 30), node="n1")


def wchar():
    with open("/proc/self/io") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("wchar:"))


def on_disk(*folders):
    seen, total = set(), 0
    for folder in folders:
        for root, _, files in os.walk(folder):
            for name in files:
                st = os.stat(os.path.join(root, name))
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_size
    return total


with ValueContext(blobs, scratch_dir=scratch) as ctx:
    w0 = wchar()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    total = float(engine.to_python(value, np.ndarray, ctx).sum())
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    out = {
        "wall": wall, "user": r1.ru_utime - r0.ru_utime, "sys": r1.ru_stime - r0.ru_stime,
        "written_mb": (wchar() - w0) / 1e6, "disk_mb": on_disk(cache_dir, scratch) / 1e6,
        "sum": total,
    }
print(json.dumps(out))
"""


def _read(src: str, url: str, value: str, cache: str, scratch: str) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(src))
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, url, value, cache, scratch],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout))


def main() -> None:
    args, home, url, value = remote_array_trees(__doc__, "airfoil-bench-node-cache-")
    got: dict[tuple[str, str], list[dict[str, float]]] = {}
    for i in range(args.pairs):
        for src in args.src:
            cache = os.path.join(home, f"cache-{i}")
            for case in ("miss", "hit"):  # the hit: another attempt, in a new process
                scratch = os.path.join(home, f"scratch-{i}-{case}")
                got.setdefault((src, case), []).append(_read(src, url, value, cache, scratch))
                shutil.rmtree(scratch, ignore_errors=True)
            shutil.rmtree(cache, ignore_errors=True)
    print(f"load: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f}; pairs: {args.pairs}")
    for (src, case), runs in got.items():
        line = [f"{src} {case}:"]
        for key in ("written_mb", "disk_mb", "wall", "user", "sys"):
            values = [r[key] for r in runs]
            line.append(
                f"{key} {statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"
            )
        print(" ".join(line))


if __name__ == "__main__":
    main()
