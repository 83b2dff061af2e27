"""The API process's garbage collections while ``airfoil server start`` starts, and in the
first seconds it serves: each full collection (objects walked, wall and CPU ms), the young
generations' totals, the CPU the process used until it answered, and its heap freezes.

A full collection holds the GIL: while the server starts it delays readiness, once the
server answers it delays every request in flight. ``ServerConfig.freeze_heap`` moves what
the server holds for its whole life out of the collector's reach; this measures how much a
start still walks, and where (before the app answers, or after).

Usage::

    python benchmarks/bench_server_start_gc.py [--arm SRC[:VARIANT] ...] [--rounds N]
        [--database-url URL] [--after S]

``--arm SRC[:VARIANT]`` (repeatable): the ``src`` directories to compare (default: this
tree's), each optionally with a way of freezing tried without changing the code (``early``:
collect and freeze once the app is built, before uvicorn starts it; ``no-auto``: the
collector paused during the start, both freezes collect; ``no-collect``: paused, nothing
collected, the heap frozen as it is). The arms start alternately round by round on the same
home and database (first, one unmeasured start of each creates them and the bytecode).
Each round prints one line per arm; the summary gives medians per arm.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

#: Run in the server's process before anything else: logs each collection of generation 2
#: (objects walked: every object the collector tracks and has not frozen), the young
#: generations' totals every 20 of their collections, and each ``gc.freeze``. It starts no
#: thread: the server forks its engine process only while it runs no other thread.
WRAPPER = r"""
import gc, json, os, sys, time
out = open(os.environ["AIRFOIL_GC_LOG"], "a", buffering=1)
pid = os.getpid()
state = {}
young = [[0.0, 0], [0.0, 0]]

def write(record):
    if os.getpid() == pid:  # not a forked child's (the engine process, zygotes)
        out.write(json.dumps(record) + "\n")

def observe(phase, info):
    gen = info["generation"]
    if phase == "start":
        if gen == 2:
            state["objects"] = len(gc.get_objects())
        state["t"], state["cpu"] = time.perf_counter(), time.thread_time()
        return
    ms = (time.perf_counter() - state["t"]) * 1000
    if gen == 2:
        cpu = (time.thread_time() - state["cpu"]) * 1000
        write({"full": state["objects"], "ms": ms, "cpu_ms": cpu, "garbage": info["collected"],
               "at": time.time()})
    else:
        young[gen][0] += ms
        young[gen][1] += 1
        if (young[0][1] + young[1][1]) % 20 == 0:  # no thread: the engine is forked alone
            write({"young": young, "at": time.time()})

gc.callbacks.append(observe)
freeze = gc.freeze

def traced_freeze():
    before = len(gc.get_objects())
    freeze()
    write({"freeze": before, "at": time.time()})

gc.freeze = traced_freeze
VARIANT = os.environ.get("AIRFOIL_GC_VARIANT", "")
if VARIANT:  # a way of freezing tried without changing the code (see --variant)
    from airfoil.server import _config
    calls = [0]

    def freeze_heap():
        calls[0] += 1
        if VARIANT == "no-auto":
            gc.collect()
        gc.freeze()
        if calls[0] == 2:  # the server is up: collections as usual from here
            gc.enable()

    if VARIANT in ("no-collect", "no-auto"):
        gc.disable()
        _config.freeze_heap = freeze_heap
import uvicorn
run = uvicorn.run

def traced_run(app, **kwargs):
    write({"built": True, "at": time.time()})
    if VARIANT == "early":
        from airfoil.server._config import freeze_heap
        freeze_heap()
    return run(app, **kwargs)

uvicorn.run = traced_run
from airfoil.cli.main import main
sys.argv = ["airfoil", *sys.argv[1:]]
main()
"""

#: What a console's first page load and a client ask a new server.
FIRST_REQUESTS = (
    "/",
    "/api/v1/projects",
    "/api/v1/projects/default/executions",
    "/api/v1/projects/default/deployments",
    "/metrics",
)


def _cpu_s(pid: int) -> float:
    """The CPU seconds a process used so far (user + system)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_once(arm: str, home: Path, database_url: str | None, after_s: float) -> dict[str, Any]:
    """One server start (``arm``: ``SRC`` or ``SRC:VARIANT``): its collections until it
    answers, and in the ``after_s`` seconds after while it serves the first requests."""
    src, _, variant = arm.partition(":")
    log = home.parent / f"gc-{time.monotonic_ns()}.jsonl"
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": src, "AIRFOIL_HOME": str(home), "AIRFOIL_GC_LOG": str(log)}
    env["AIRFOIL_GC_VARIANT"] = variant
    env.pop("AIRFOIL_DATABASE_URL", None)
    command = [sys.executable, "-c", WRAPPER, "server", "start", "--port", str(port)]
    if database_url:
        command += ["--database-url", database_url]
    began = time.time()
    errors = open(home.parent / "server.err", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
    url = f"http://127.0.0.1:{port}"
    ready = cpu_to_ready = None
    slowest = 0.0
    try:
        with httpx.Client(timeout=10) as client:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if client.get(url + "/healthz").status_code == 200:
                        ready = time.time()
                        cpu_to_ready = _cpu_s(proc.pid)
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None:
                    raise RuntimeError((home.parent / "server.err").read_text()[-2000:])
                time.sleep(0.02)
            assert ready is not None, "the server did not answer in 120 s"
            while time.time() < ready + after_s:
                for path in FIRST_REQUESTS:
                    t0 = time.perf_counter()
                    client.get(url + path)
                    slowest = max(slowest, time.perf_counter() - t0)
                time.sleep(0.1)
        rss_mib = _rss_mib(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        errors.close()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    log.unlink()
    built = next((r["at"] for r in records if "built" in r), ready)
    fulls = [r for r in records if "full" in r]
    young = [r["young"] for r in records if "young" in r and r["at"] <= ready + after_s]
    return {
        "to_ready_s": ready - began,
        "cpu_to_ready_s": cpu_to_ready,
        "full_imports": [_full(r) for r in fulls if r["at"] <= built],
        "full_lifespan": [_full(r) for r in fulls if built < r["at"] <= ready],
        "full_serving": [_full(r) for r in fulls if ready < r["at"] <= ready + after_s],
        "freezes": [r["freeze"] for r in records if "freeze" in r],
        "young_ms": [round(g[0], 1) for g in young[-1]] if young else [0.0, 0.0],
        "slowest_first_request_ms": slowest * 1000,
        "rss_mib": rss_mib,
    }


def _rss_mib(pid: int) -> float:
    """A process's resident memory now (MiB)."""
    with open(f"/proc/{pid}/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kib / 1024


def _full(r: dict[str, Any]) -> tuple[int, float, float, int]:
    """A full collection: objects walked, wall ms, CPU ms, garbage found."""
    return (r["full"], r["ms"], r["cpu_ms"], r["garbage"])


def _fulls(items: list[tuple[int, float, float, int]]) -> str:
    return ", ".join(f"{n // 1000}k {ms:.0f}ms (garbage {g})" for n, ms, _, g in items) or "-"


def _line(name: str, r: dict[str, Any]) -> str:
    before = r["full_imports"] + r["full_lifespan"]
    return (
        f"  {name}: ready {r['to_ready_s']:.2f} s (CPU {r['cpu_to_ready_s']:.2f} s); full "
        f"collections until the app is built [{_fulls(r['full_imports'])}], while it starts "
        f"[{_fulls(r['full_lifespan'])}] = {sum(x[1] for x in before):.0f} ms wall, "
        f"{sum(x[2] for x in before):.0f} ms CPU; while serving [{_fulls(r['full_serving'])}]; "
        f"frozen {r['freezes']}; young gens {r['young_ms']} ms; slowest first request "
        f"{r['slowest_first_request_ms']:.0f} ms; RSS {r['rss_mib']:.1f} MiB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = str(Path(__file__).resolve().parent.parent / "src")
    ap.add_argument(
        "--arm",
        action="append",
        default=None,
        help="SRC or SRC:VARIANT to compare (variants: early, no-auto, no-collect)",
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--database-url",
        default=None,
        help="default: SQLite in a new home per arm; {arm} in it is replaced by the arm's index",
    )
    ap.add_argument("--after", type=float, default=3.0, help="seconds served after ready")
    args = ap.parse_args()
    arms = args.arm or [here]
    with tempfile.TemporaryDirectory() as tmp:
        # A home (and database) per arm: trees at other schema revisions do not share one.
        homes = {arm: Path(tmp) / str(i) / "home" for i, arm in enumerate(arms)}
        urls = {
            arm: args.database_url.replace("{arm}", str(i)) if args.database_url else None
            for i, arm in enumerate(arms)
        }
        for arm in arms:  # creates the home and schema, and each tree's bytecode
            homes[arm].parent.mkdir(parents=True)
            start_once(arm, homes[arm], urls[arm], 0.0)
        results: dict[str, list[dict[str, Any]]] = {a: [] for a in arms}
        for n in range(args.rounds):
            print(f"round {n + 1} (load {os.getloadavg()[0]:.1f})", flush=True)
            order = arms if n % 2 == 0 else list(reversed(arms))
            for arm in order:
                r = start_once(arm, homes[arm], urls[arm], args.after)
                results[arm].append(r)
                print(_line(arm, r), flush=True)
    print("medians:")
    for arm, rs in results.items():
        before = [r["full_imports"] + r["full_lifespan"] for r in rs]
        print(
            f"  {arm}: ready {statistics.median(r['to_ready_s'] for r in rs):.2f} s, CPU to "
            f"ready {statistics.median(r['cpu_to_ready_s'] for r in rs):.2f} s, full "
            "collections before ready "
            f"{statistics.median(sum(x[1] for x in b) for b in before):.0f} ms wall / "
            f"{statistics.median(sum(x[2] for x in b) for b in before):.0f} ms CPU "
            f"({statistics.median(sum(x[0] for x in b) for b in before) / 1000:.0f}k objects "
            "walked), while serving "
            f"{statistics.median(sum(x[1] for x in r['full_serving']) for r in rs):.0f} ms, "
            f"RSS {statistics.median(r['rss_mib'] for r in rs):.1f} MiB"
        )


if __name__ == "__main__":
    main()
