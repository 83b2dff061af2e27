"""``airfoil server start`` to ready: the wall time until ``/readyz`` answers 200, and the CPU
the server and every process under it (the engine process, the forkserver, the workers) had
used by then, and their memory at that moment (the sum of their PSS: shared pages counted once
over the processes sharing them; and of their RSS), on PostgreSQL with a schema migrated
already.

A server says it is ready once its driver slots have started their workers
(``ServerConfig.warm_workers``, docs/server.md): this shows what that costs the start, the
CPU a fresh server's first executions no longer spend (``bench_server.py``'s cold round).

Usage::

    python benchmarks/bench_server_ready.py [--arm SRC ...] [--starts 5] [--slots 4]
        [--max-parallel N]

``--arm SRC`` (repeatable): the ``src`` directories to compare (default: this tree's); the
arms start alternately on the same home and schema, after one unmeasured start of each (it
migrates the schema and writes the bytecode). PostgreSQL: ``AIRFOIL_BENCH_PG_URL``.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psutil
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from bench_server import PG_URL, _port


def _cpu(process: psutil.Process) -> float:
    try:
        t = process.cpu_times()
    except psutil.Error:
        return 0.0
    return float(t.user + t.system)


def _memory(process: psutil.Process) -> tuple[float, float]:
    """(PSS, RSS) of ``process`` in MiB; zeros for one that is gone."""
    try:
        m = process.memory_full_info()
    except psutil.Error:
        return 0.0, 0.0
    return m.pss / 2**20, m.rss / 2**20


_Start = tuple[float, float, int, float, float]


def _start(src: str, home: Path, db: str, slots: int, parallel: int | None) -> _Start:
    """One start: seconds to ready, CPU seconds of the server's tree then, its processes, the
    tree's PSS and RSS (MiB)."""
    env = dict(os.environ, AIRFOIL_HOME=str(home), PYTHONPATH=src)
    port = _port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "airfoil.cli", "server", "start", "--port", str(port)),
            *("--database-url", db, "--slots", str(slots)),
            *(("--max-parallel", str(parallel)) if parallel else ()),
        ],
        env=env,
        cwd=home.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise SystemExit(f"the server from {src} exited ({proc.returncode})")
            time.sleep(0.02)
        took = time.perf_counter() - t0
        server = psutil.Process(proc.pid)
        under = server.children(recursive=True)
        cpu = _cpu(server) + sum(_cpu(p) for p in under)
        memory = [_memory(p) for p in (server, *under)]
        pss, rss = sum(m[0] for m in memory), sum(m[1] for m in memory)
        return took, cpu, len(under), pss, rss
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--arm", action="append", default=None)
    ap.add_argument("--starts", type=int, default=5)
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--max-parallel", type=int, default=None)  # None: the server's default
    args = ap.parse_args()
    arms = args.arm or [str(Path(__file__).resolve().parents[1] / "src")]
    admin = sa.create_engine(PG_URL, poolclass=sa.pool.NullPool)
    schema = f"airfoil_bench_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    db = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    seen: dict[str, list[_Start]] = {a: [] for a in arms}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "home"
            for start in range(args.starts + 1):
                for arm in arms:
                    got = _start(arm, home, db, args.slots, args.max_parallel)
                    if start:  # the first of each migrates and compiles
                        seen[arm].append(got)
                        print(
                            f"{arm}: ready in {got[0]:.2f} s, CPU {got[1]:.2f} s, "
                            f"{got[2]} processes under the server, PSS {got[3]:.0f} MiB "
                            f"(RSS {got[4]:.0f}); load {os.getloadavg()[0]:.1f}",
                            flush=True,
                        )
        for arm, runs in seen.items():
            print(
                f"{arm}: to ready median {statistics.median(r[0] for r in runs):.2f} s, CPU at "
                f"ready median {statistics.median(r[1] for r in runs):.2f} s, PSS median "
                f"{statistics.median(r[3] for r in runs):.0f} MiB (RSS "
                f"{statistics.median(r[4] for r in runs):.0f}) (n={len(runs)})"
            )
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
