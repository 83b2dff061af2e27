"""What an idle ``airfoil server start`` costs: CPU of the server's processes (API, engine
process, workers) and of its PostgreSQL backends, per second, while nobody sends it a
request, after ``--settle`` seconds (a new server's start, its first reads and the key
refresh's last turns). Backends are found by name (``application_name``, see
``bench_server.server_backends``), so a Unix-socket URL works too.

    PYTHONPATH=src python benchmarks/bench_idle.py [--seconds 30 --settle 15 --repeat 3]

For an A/B, run it with ``PYTHONPATH`` at the other tree's ``src``.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from bench_server import _start, bench_schema, server_backends


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--settle", type=float, default=15.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with bench_schema() as (admin, schema, db), tempfile.TemporaryDirectory() as tmp:
        proc, url = _start(Path(tmp), db, 4, None, None, None)
        try:
            httpx.get(f"{url}/api/v1/projects", timeout=10)  # one request, as a console's
            time.sleep(args.settle)
            server = psutil.Process(proc.pid)
            shares = []
            for _ in range(args.repeat):
                mine = [server.pid, *(p.pid for p in server.children(recursive=True))]
                pg = server_backends(admin, schema)
                c0, d0, t0 = _cpu(mine), _cpu(pg), time.monotonic()
                time.sleep(args.seconds)
                wall = time.monotonic() - t0
                server_s, db_s = (_cpu(mine) - c0) / wall, (_cpu(pg) - d0) / wall
                shares.append((server_s, db_s))
                print(
                    f"idle: server {server_s * 100:.2f}% of a core, its PostgreSQL "
                    f"backends {db_s * 100:.2f}% ({len(pg)} backends), load "
                    f"{os.getloadavg()[0]:.1f}",
                    flush=True,
                )
            print(
                f"median: server {statistics.median(s for s, _ in shares) * 100:.2f}%, "
                f"PostgreSQL {statistics.median(d for _, d in shares) * 100:.2f}%"
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


if __name__ == "__main__":
    main()
