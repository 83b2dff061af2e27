"""SQLite WAL frames (4 KiB pages) a warm run of B1 or M1 writes, steady against load.

The store's commits append one frame per page they change to ``airfoil.db-wal``; a warm run
of B1 (a chain of 100 trivial tasks) stays well under SQLite's automatic checkpoint (1,000
frames), so the WAL's size after a run, the file truncated before it, counts the run's
frames. The journal's fold on time is switched off as in ``count_instructions.py`` (how
many folds a run makes would otherwise depend on the host's speed).

    python benchmarks/count_wal_frames.py B1 M1          # 2 warm-ups, then 4 counted runs

Prints, per benchmark, the frames of each counted run and their median. To compare two
trees, run it with each tree's ``src`` on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

#: a WAL file's header, and each frame's: a page of 4,096 bytes and a 24-byte frame header
_WAL_HEADER, _FRAME = 32, 4096 + 24


def frames(which: str, runs: int) -> list[int]:
    """The WAL frames of each of ``runs`` warm runs of ``which``, after 2 warm-ups."""
    from _util import temp_dir, workload

    os.environ["AIRFOIL_HOME"] = temp_dir(prefix="airfoil-wal-")
    from airfoil.engine import _group_commit

    init = _group_commit.GroupCommit.__init__

    def no_time_fold(self: _group_commit.GroupCommit, *a: object, **k: object) -> None:
        k["max_s"] = 1e6
        init(self, *a, **k)  # type: ignore[arg-type]

    _group_commit.GroupCommit.__init__ = no_time_fold  # type: ignore[method-assign]
    run = workload(which)
    for _ in range(2):
        run()
    # the benchmark's module may choose its own home on import (bench_core does)
    db = os.path.join(os.environ["AIRFOIL_HOME"], "airfoil.db")
    wal = db + "-wal"
    out = []
    for _ in range(runs):
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        run()
        size = os.path.getsize(wal) if os.path.exists(wal) else 0
        out.append(max(0, size - _WAL_HEADER) // _FRAME)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmarks", nargs="*", default=["B1"])
    parser.add_argument("--runs", type=int, default=4, help="warm runs to count")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # in a process of its own: a benchmark's home and store are per process
        (which,) = args.benchmarks
        counted = frames(which.upper(), args.runs)
        print(f"{which.upper()}: {statistics.median(counted):.0f} WAL frames a warm run {counted}")
        return
    for which in args.benchmarks:
        one = [sys.executable, __file__, "--one", "--runs", str(args.runs), which]
        subprocess.run(one, check=True)


if __name__ == "__main__":
    main()
