"""A map of 10,000 trivial items on a 3-node local Ray cluster, driven by ``airfoil run
--executor ray --ray-address`` (issue 13 budget: <= 45 s, driver RSS <= 1 GiB, on a warm
cluster, medians).

Starts a Ray cluster on this machine with ``ray start`` -- a head and two worker nodes, each
with ``--cpus`` CPUs -- then runs, each as its own ``airfoil run`` process (a new driver: it
joins the cluster and starts its warm workers, as a user's run does):

- one warm-up run of a small map (the cluster's first workers, files in the OS cache);
- ``--runs`` runs of the map of ``--items`` items (``list_of -> map_task(inc) -> total``),
  each timed from the process's start to its exit, with the driver's peak RSS and CPU time
  (``wait4``'s resource usage of that one process).

Prints each run, the medians and the load average. The cluster's processes are killed by id
at the end (found by its session folder), never with ``ray stop`` (which stops every Ray of
the user).

    .venv/bin/python benchmarks/bench_ray_map.py [--items 10000] [--runs 3] [--cpus 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _util import temp_dir

SRC = Path(__file__).resolve().parents[1] / "src"

FLOW = textwrap.dedent(
    """
    import airfoil as af


    @af.task
    def list_of(n: int) -> list[int]:
        return list(range(n))


    @af.task
    def inc(x: int) -> int:
        return x + 1


    @af.task
    def total(xs: list[int]) -> int:
        return sum(xs)


    @af.workflow
    def wf(n: int) -> int:
        return total(xs=af.map_task(inc)(x=list_of(n=n)))
    """
)


class LocalCluster:
    """A head and two worker nodes started with ``ray start``, in their own session folder."""

    def __init__(self, cpus: int) -> None:
        self.cpus = cpus
        self.temp = temp_dir(prefix="afbench-ray-")
        self.env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
            RAY_USAGE_STATS_ENABLED="0",
            RAY_AUTH_MODE="disabled",
        )
        self.address = ""

    def _ray_start(self, *args: str) -> str:
        ray_cli = str(Path(sys.executable).with_name("ray"))
        done = subprocess.run(
            [ray_cli, "start", *args], env=self.env, capture_output=True, text=True, timeout=180
        )
        if done.returncode != 0:
            raise RuntimeError(done.stdout + done.stderr)
        return done.stdout + done.stderr

    def start(self) -> None:
        head = self._ray_start(
            "--head", "--port=0", f"--num-cpus={self.cpus}", f"--temp-dir={self.temp}",
            "--include-dashboard=false", "--disable-usage-stats",
        )  # fmt: skip
        found = re.search(r"--address='([^']+)'", head)
        if not found:
            raise RuntimeError(head)
        self.address = found.group(1)
        for _ in range(2):
            self._ray_start(f"--address={self.address}", f"--num-cpus={self.cpus}")

    def stop(self) -> None:
        import psutil

        me = os.getpid()
        procs: dict[int, psutil.Process] = {}
        for p in psutil.process_iter(["cmdline"]):
            try:
                if p.pid != me and any(self.temp in a for a in p.info["cmdline"] or ()):
                    for q in [p, *p.children(recursive=True)]:
                        procs[q.pid] = q
            except psutil.Error:
                continue
        for p in procs.values():
            try:
                p.send_signal(signal.SIGKILL)
            except psutil.Error:
                continue
        psutil.wait_procs(list(procs.values()), timeout=10)
        shutil.rmtree(self.temp, ignore_errors=True)


def run_map(cluster: LocalCluster, flow: Path, home: Path, n: int) -> tuple[float, float, float]:
    """One ``airfoil run`` of the map: (wall s, driver peak RSS MiB, driver CPU s)."""
    cmd = [
        sys.executable, "-m", "airfoil.cli", "run", "--json", "--executor", "ray",
        "--ray-address", cluster.address, str(flow), "wf", "--n", str(n),
    ]  # fmt: skip
    env = dict(cluster.env, AIRFOIL_HOME=str(home))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, errors = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise RuntimeError(f"airfoil run failed ({proc.returncode}): {errors[-3000:]}")
    data = json.loads(text)
    expected = n * (n + 1) // 2
    if data["phase"] != "succeeded" or data["outputs"]["o0"] != expected:
        raise RuntimeError(f"unexpected result: {text[:2000]}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of each of the 3 nodes")
    args = parser.parse_args()
    work = Path(temp_dir(prefix="afbench-map-"))
    flow = work / "mapflow.py"
    flow.write_text(FLOW)
    cluster = LocalCluster(args.cpus)
    print(f"load average: {load()}", flush=True)
    t0 = time.perf_counter()
    try:
        cluster.start()
        print(
            f"cluster: a head and 2 worker nodes, {args.cpus} CPUs each, started in "
            f"{time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        wall, rss, cpu = run_map(cluster, flow, work / "home", 100)
        print(f"warm-up (100 items): {wall:.1f} s, driver RSS {rss:.0f} MiB", flush=True)
        runs = []
        for i in range(args.runs):
            wall, rss, cpu = run_map(cluster, flow, work / "home", args.items)
            runs.append((wall, rss, cpu))
            print(
                f"run {i + 1}: {args.items} items in {wall:.1f} s "
                f"({wall / args.items * 1000:.2f} ms/item), driver peak RSS {rss:.0f} MiB, "
                f"driver CPU {cpu:.1f} s; load {load()}",
                flush=True,
            )
        walls, rsss, cpus = zip(*runs, strict=True)
        print(
            f"median of {args.runs}: {statistics.median(walls):.1f} s [budget <= 45 s], driver "
            f"peak RSS {statistics.median(rsss):.0f} MiB (max {max(rsss):.0f}) "
            f"[budget <= 1024 MiB], driver CPU {statistics.median(cpus):.1f} s",
            flush=True,
        )
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average: {load()}", flush=True)


if __name__ == "__main__":
    main()
