"""How the local engine's cost per task scales with the size of a run (issue 17: "how they
scale from 10 to 100,000 tasks").

Three shapes on the default local runtime (inline executor, embedded SQLite, durable), each
size in a fresh process with its own empty home, so the peak RSS and the store's size are that
run's alone:

- ``map``: ``af.map_task`` of N trivial items + a reduce (N up to 100,000);
- ``chain``: N trivial tasks each fed by the one before (a workflow of N nodes, N up to 10,000);
- ``fan``: N independent trivial tasks whose outputs form the workflow's list output.

Each process compiles the workflow, runs it once cold, then ``--runs`` times warm (a warm run
is a new execution: nothing is cached); it prints the cold and the median warm wall time per
task, CPU per task, peak RSS and the home folder's size after all runs: the database file and
the blobs, and apart SQLite's write-ahead log (pages not yet checkpointed into the database).

    PYTHONPATH=src python benchmarks/bench_scaling.py [--shapes map,chain,fan]
        [--sizes 10,100,1000,10000,100000] [--runs 3] [--profile]

``--profile`` samples the warm runs with ``py-spy`` (``--nonblocking``: C time and the kernel
count, the process is not paused) and prints where a task's time goes: each sample is charged
to the part of Airfoil its innermost Airfoil frame belongs to (serialisation when the
innermost frame of all is in ``json``, ``msgspec``, ``hashlib`` or ``pickle``; the task bodies
when it is the benchmark's own code; the rest of the interpreter and the standard library
called from Airfoil counts for the Airfoil part that called it). Read the parts as shares of
the warm runs' samples, not as times.

Read the per-task columns across a row of sizes: flat means the engine's cost per task does not
grow with the run (no quadratic step); the absolute figures move with the machine's load
(printed before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _parts import part_of_file
from _util import temp_dir

CHILD = r"""
import json, os, resource, statistics, sys, time
import airfoil as af

shape, n, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


@af.task
def inc(x: int) -> int:
    return x + 1


@af.task
def total(xs: list[int]) -> int:
    return sum(xs)


if shape == "map":
    @af.workflow
    def wf(xs: list[int]) -> int:
        return total(xs=af.map_task(inc)(x=xs))
    args = {"xs": list(range(n))}
    expect = sum(range(n)) + n
elif shape == "chain":
    @af.workflow
    def wf(x: int = 0) -> int:
        for _ in range(n):
            x = inc(x=x)
        return x
    args = {}
    expect = n
else:
    @af.workflow
    def wf() -> list[int]:
        return [inc(x=i) for i in range(n)]  # type: ignore[return-value]
    args = {}
    expect = list(range(1, n + 1))


def once():
    c0, t0 = time.process_time(), time.perf_counter()
    assert wf(**args) == expect
    return time.perf_counter() - t0, time.process_time() - c0


cold = once()
if os.environ.get("SCALING_HOLD"):  # --profile: the parent attaches py-spy to the warm runs
    print("HOLD", flush=True)
    sys.stdin.readline()
warm = [once() for _ in range(runs)]
home = os.environ["AIRFOIL_HOME"]
files = [os.path.join(d, f) for d, _, fs in os.walk(home) for f in fs]
wal = sum(os.path.getsize(f) for f in files if f.endswith(("-wal", "-shm")))
size = sum(os.path.getsize(f) for f in files) - wal
print(json.dumps({
    "cold": cold[0],
    "wall": statistics.median(w for w, _ in warm) if warm else cold[0],
    "cpu": statistics.median(c for _, c in warm) if warm else cold[1],
    "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "home_mib": size / 2**20,
    "wal_mib": wal / 2**20,
}))
"""

#: The largest size of each shape run unless ``--past-limits`` (a chain or fan-out of 100,000
#: took ~1 min a run and 0.5-0.65 GiB at its peak on this project's 2-core host at load ~10).
LIMITS = {"map": 100_000, "chain": 10_000, "fan": 10_000}


def _file(frame: str) -> str:
    """The file of one of py-spy's raw frames, ``function (path/to/file.py:line)``."""
    return frame[frame.rfind("(") + 1 : frame.rfind(":")]


def _part(stack: list[str]) -> str:
    """The part a sampled stack (outermost first, py-spy's raw frames) is charged to: that of
    its innermost frame that has one (``_parts.part_of_file``)."""
    for frame in reversed(stack):
        path = _file(frame)
        part = part_of_file(path)
        if part is not None:
            return part
        if path == "<string>":
            return "task bodies, benchmark"
    return "no Airfoil frame (threads, exit)"


def _profile(proc: subprocess.Popen[str], out: Path) -> None:
    """Sample ``proc`` with py-spy from now until it exits (raw, collapsed stacks into ``out``)."""
    spy = subprocess.Popen(
        [
            "py-spy",
            "record",
            "--nonblocking",
            "--rate",
            "500",
            "--format",
            "raw",
            "--output",
            str(out),
            "--pid",
            str(proc.pid),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.5)  # py-spy attaches
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    proc.wait()
    spy.wait(timeout=60)


def _parts(raw: Path) -> dict[str, float]:
    """Shares of the samples in py-spy's raw output, by part."""
    counts: dict[str, int] = {}
    for line in raw.read_text().splitlines():
        frames, _, n = line.rpartition(" ")
        part = _part(frames.split(";"))
        counts[part] = counts.get(part, 0) + int(n)
    total = sum(counts.values()) or 1
    return {k: v / total for k, v in sorted(counts.items(), key=lambda kv: -kv[1])}


def _one(shape: str, n: int, runs: int, profile: bool) -> tuple[dict[str, float], dict[str, float]]:
    home = temp_dir(prefix="airfoil-scaling-")
    env = dict(os.environ, AIRFOIL_HOME=home)
    if profile:
        env["SCALING_HOLD"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, shape, str(n), str(runs)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    raw = Path(home) / "py-spy.txt"
    if profile:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() == "HOLD":
            _profile(proc, raw)
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{shape} of {n} failed:\n{stderr[-3000:]}")
    result: dict[str, float] = dict(json.loads(stdout.strip().splitlines()[-1]))
    if profile and not raw.exists():
        raise SystemExit("--profile: py-spy wrote no samples (is it installed, may it attach?)")
    return result, _parts(raw) if profile else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="map,chain,fan")
    parser.add_argument("--sizes", default="10,100,1000,10000,100000")
    parser.add_argument("--runs", type=int, default=3, help="warm runs per size (median)")
    parser.add_argument("--profile", action="store_true", help="where the warm runs' time goes")
    parser.add_argument(
        "--past-limits", action="store_true", help="run chains and fans above 10,000 tasks too"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"load average before: {os.getloadavg()[0]:.1f}", flush=True)
    for shape in args.shapes.split(","):
        if shape not in LIMITS:
            raise SystemExit(f"unknown shape {shape!r}: choose from {', '.join(LIMITS)}")
        head = "size | cold ms/task | warm ms/task | CPU ms/task | peak RSS | store | WAL"
        print(f"\n{shape}: {head}")
        for n in sizes:
            if n > LIMITS[shape] and not args.past_limits:
                continue
            runs = args.runs if n <= 10_000 else 1
            r, parts = _one(shape, n, runs, args.profile)
            print(
                f"  {n:>7,} | {r['cold'] * 1000 / n:8.3f} | {r['wall'] * 1000 / n:8.3f} | "
                f"{r['cpu'] * 1000 / n:8.3f} | {r['rss_mib']:6.0f} MiB | "
                f"{r['home_mib']:7.1f} MiB | {r['wal_mib']:6.1f} MiB",
                flush=True,
            )
            for part, share in parts.items():
                print(f"          {part:<34} {share:6.1%} of the warm runs' samples")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
