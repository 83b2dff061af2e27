"""W4 beside Dagster, in the same invocation (issue 17: a 1,000,000 x 10 float DataFrame
handed between two tasks "at or below Dagster's in-memory figure", durably).

Airfoil's side is ``bench_core.py``'s B4 workflow (the frame stored durably once as an Arrow
IPC stream under its BLAKE3 and memory-mapped by the reading task; embedded SQLite, inline
executor). Dagster's side is a job of two ops handing the same frame (same seed, same shape)
through Dagster's in-memory IO manager (``mem_io_manager``, ``execute_in_process``: nothing
stored, the run's events in an ephemeral instance). Dagster runs in another Python, given by
``--dagster-python``, so that it never enters this project's environment:

    python -m venv /tmp/dagster-venv
    /tmp/dagster-venv/bin/pip install dagster==1.13.28 pandas pyarrow
    PYTHONPATH=src python benchmarks/bench_w4_dagster.py \
        --dagster-python /tmp/dagster-venv/bin/python

Both sides are measured the same way, the sides alternating run by run (the first side
swapped every pair), medians of ``--runs``:

1. warm: one long-lived process per side, after its own first run, is asked for one run at
   a time; the run's wall time (``perf_counter``) and CPU time (``process_time``) inside it,
   and the CPU time outside the kernel (``user``: ``process_time`` less ``ru_stime``; the
   kernel's part of writing a new 80 MB blob varies ~10x with the host's page cache state);
2. fresh: a whole new process per run (the interpreter's start, the imports, the frame
   built, one run on a fresh Airfoil home or a fresh ephemeral Dagster instance, the exit),
   its wall time from spawn to exit and its CPU time (``RUSAGE_CHILDREN``), and inside it the
   imports, the frame and the run (wall and CPU).

With ``--distinct`` only the warm runs are measured, each on another frame (one value of it
changed before the clocks start, on both sides), so that Airfoil writes a new blob every run
rather than finding the frame already stored under its hash (B4's own case: the same frame
every run). Airfoil's process then also times, beside each run (before it in one run, after it
in the next), two plain writes of the same frame's 80 MB to new files kept on the same
filesystem, and nothing else: one ``os.write`` a column (as pyarrow writes the IPC stream's
buffers, and Airfoil wrote a frame until 7 December) and 256 KiB writes (as Airfoil writes a
frame now): what any store that keeps the frame in a file pays the kernel for it on this host,
the floor under Airfoil's run. Ratios are Airfoil / Dagster. Without ``--dagster-python`` it
says how to get one and runs nothing (``make bench`` runs every script without arguments). What
the sides print (Dagster logs each event of a run to stderr by default) goes to a temporary
file, shown if a side fails.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import IO, Any

INSTALL = (
    "python -m venv /tmp/dagster-venv && "
    "/tmp/dagster-venv/bin/pip install dagster==1.13.28 pandas pyarrow"
)
SIDES = ("airfoil", "dagster")


def _airfoil_side() -> tuple[Callable[[], list[float]], Any, float, float]:
    """The run, the frame, the imports' seconds and the frame's seconds (this process: the
    project's Python)."""
    t0 = time.perf_counter()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_core  # sets a fresh AIRFOIL_HOME of its own, as B4 runs

    t1 = time.perf_counter()
    frame, _make, df_wf = bench_core.b4_flow()
    t2 = time.perf_counter()
    return df_wf, frame, t1 - t0, t2 - t1


def _dagster_side() -> tuple[Callable[[], list[float]], Any, float, float]:
    """The same as :func:`_airfoil_side` for a Dagster job (this process: the Dagster venv's
    Python; nothing of Airfoil imported)."""
    t0 = time.perf_counter()
    import numpy as np
    import pandas as pd
    from dagster import job, mem_io_manager, op

    t1 = time.perf_counter()
    frame = pd.DataFrame(
        np.random.default_rng(0).random((1_000_000, 10)), columns=[f"c{i}" for i in range(10)]
    )

    @op
    def make():  # type: ignore[no-untyped-def]
        return frame

    @op
    def means(df):  # type: ignore[no-untyped-def]
        return [float(v) for v in df.mean().tolist()]

    @job(resource_defs={"io_manager": mem_io_manager})
    def df_job():  # type: ignore[no-untyped-def]
        means(make())

    def run() -> list[float]:
        result = df_job.execute_in_process()
        if not result.success:
            raise RuntimeError("the Dagster job failed")
        out: list[float] = result.output_for_node("means")
        return out

    t2 = time.perf_counter()
    return run, frame, t1 - t0, t2 - t1


def child(side: str, once: bool, distinct: bool) -> None:
    """One side's process: its first run, then (unless ``once``) one run per ``run`` line
    on stdin. Answers are JSON lines on the stdout it started with; anything the libraries
    print goes to stderr."""
    proto: IO[str] = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    given = os.environ.get("AIRFOIL_HOME")
    try:
        _serve(proto, side, once, distinct)
    finally:
        # the temporary home bench_core made in this process holds the ~80 MB frame; a home
        # this process was given is never touched
        made = os.environ.get("AIRFOIL_HOME")
        if side == "airfoil" and made and made != given:
            shutil.rmtree(made, ignore_errors=True)


def _serve(proto: IO[str], side: str, once: bool, distinct: bool) -> None:
    run, frame, import_s, frame_s = (_airfoil_side if side == "airfoil" else _dagster_side)()
    if side != "airfoil" or not distinct:
        _serve_runs(proto, run, frame, import_s, frame_s, once, distinct, None)
        return
    # the plain writes' files, beside Airfoil's home (bench_core made it in the temporary
    # directory: the same filesystem), kept as a store keeps its blobs, removed at the end
    home = os.environ["AIRFOIL_HOME"]
    folder = tempfile.mkdtemp(prefix="w4-plain-write-", dir=os.path.dirname(home))
    try:
        _serve_runs(proto, run, frame, import_s, frame_s, once, distinct, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


#: The plain writes beside each Airfoil run: one ``os.write`` a column (8 MB, as pyarrow
#: writes a stream's buffers), and 256 KiB writes (as Airfoil writes a frame's file).
PLAIN = {"plain_8mb": 0, "plain_256k": 1 << 18}


def _plain_write(frame: Any, path: str, piece: int) -> tuple[float, float]:
    """Write ``frame``'s columns (no copy of a contiguous column) to a new file at ``path``,
    kept, in writes of ``piece`` bytes (0: a column a write); the CPU it took and the
    kernel's part of it."""
    import numpy as np

    k0 = resource.getrusage(resource.RUSAGE_SELF).ru_stime
    c0 = time.process_time()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        for name in frame.columns:
            column = np.ascontiguousarray(frame[name].to_numpy()).data.cast("B")
            step = piece or len(column)
            for start in range(0, len(column), step):
                rest = column[start : start + step]
                while rest:
                    rest = rest[os.write(fd, rest) :]
    finally:
        os.close(fd)
    return time.process_time() - c0, resource.getrusage(resource.RUSAGE_SELF).ru_stime - k0


def _plain_writes(frame: Any, folder: str, n: int) -> dict[str, float]:
    """The plain writes of run ``n`` (their order swapped every run), timed apart."""
    got: dict[str, float] = {}
    names = list(PLAIN) if n % 2 else list(PLAIN)[::-1]
    for name in names:
        cpu, kernel = _plain_write(frame, os.path.join(folder, f"{name}-{n}"), PLAIN[name])
        got[f"{name}_cpu"], got[f"{name}_sys"] = cpu, kernel
    return got


def _serve_runs(
    proto: IO[str],
    run: Callable[[], list[float]],
    frame: Any,
    import_s: float,
    frame_s: float,
    once: bool,
    distinct: bool,
    folder: str | None,
) -> None:
    """Answer for each run; with a ``folder``, time a plain write into it beside each run."""
    runs = 0

    def timed() -> dict[str, float]:
        nonlocal runs
        runs += 1
        if distinct and runs > 1:  # another frame each run (one value), before the clocks
            frame.iloc[0, 0] = float(runs)
        before = _plain_writes(frame, folder, runs) if folder and runs % 2 else {}
        k0 = resource.getrusage(resource.RUSAGE_SELF).ru_stime
        w0, c0 = time.perf_counter(), time.process_time()
        check = sum(run())
        got = {
            "wall": time.perf_counter() - w0,
            "cpu": time.process_time() - c0,
            "sys": resource.getrusage(resource.RUSAGE_SELF).ru_stime - k0,
            "check": check,
        }
        after = _plain_writes(frame, folder, runs) if folder and not runs % 2 else {}
        return {**got, **before, **after}

    first = timed()
    proto.write(json.dumps({"import_s": import_s, "frame_s": frame_s, **first}) + "\n")
    proto.flush()
    if once:
        return
    for line in sys.stdin:
        if line.strip() != "run":
            break
        proto.write(json.dumps(timed()) + "\n")
        proto.flush()


def _command(
    side: str, dagster_python: str, once: bool, distinct: bool
) -> tuple[list[str], dict[str, str]]:
    argv = [__file__, "--child", side] + (["--once"] if once else [])
    argv += ["--distinct"] if distinct else []
    if side == "airfoil":
        return [sys.executable, *argv], dict(os.environ)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return [dagster_python, *argv], env


def _check_dagster_python(path: str) -> str:
    """Dagster's version in ``path``'s Python, or a clear exit naming the fix."""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise SystemExit(
            f"--dagster-python {path!r} is not an executable file: give the Python of a venv "
            f"with Dagster installed ({INSTALL})"
        )
    probe = subprocess.run(
        [path, "-c", "import dagster, pandas, pyarrow; print(dagster.__version__)"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["(no error text)"])[-1]
        raise SystemExit(
            f"--dagster-python {path!r} cannot import dagster, pandas and pyarrow ({last}): "
            f"install them in that venv ({INSTALL})"
        )
    return probe.stdout.strip()


class _Side:
    """One side's process: its answers on a pipe, what it prints in a temporary file (read
    back when it fails)."""

    def __init__(self, side: str, dagster_python: str, once: bool, distinct: bool) -> None:
        cmd, env = _command(side, dagster_python, once, distinct)
        self.side = side
        self.err = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed by close()
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True, env=env
        )

    def read(self) -> dict[str, float]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.err.seek(0)
            tail = "".join(self.err.readlines()[-20:])
            code = self.proc.wait()
            raise RuntimeError(
                f"the {self.side} process ended without an answer (exit {code}):\n{tail}"
            )
        answer: dict[str, float] = json.loads(line)
        return answer

    def ask(self) -> dict[str, float]:
        assert self.proc.stdin is not None
        self.proc.stdin.write("run\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> int:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        code = self.proc.wait()
        self.err.close()
        return code


def _order(i: int) -> tuple[str, ...]:
    return SIDES if i % 2 == 0 else SIDES[::-1]


def _same_answer(checks: dict[str, float]) -> None:
    a, d = checks["airfoil"], checks["dagster"]
    if abs(a - d) > 1e-9 * max(abs(a), abs(d), 1.0):
        raise RuntimeError(f"the two sides computed different means: {a!r} against {d!r}")


def warm(dagster_python: str, runs: int, distinct: bool) -> dict[str, dict[str, list[float]]]:
    procs = {side: _Side(side, dagster_python, False, distinct) for side in SIDES}
    plain = [f"{name}_{clock}" for name in PLAIN for clock in ("cpu", "sys")]
    keys = ("wall", "cpu", "user", "sys", *plain)
    out: dict[str, dict[str, list[float]]] = {s: {k: [] for k in keys} for s in SIDES}
    try:
        firsts = {side: procs[side].read() for side in SIDES}
        _same_answer({s: firsts[s]["check"] for s in SIDES})
        for i in range(runs):
            for side in _order(i):
                got = procs[side].ask()
                out[side]["wall"].append(got["wall"])
                out[side]["cpu"].append(got["cpu"])
                # (two clocks: the difference may read a hair below zero)
                out[side]["user"].append(max(0.0, got["cpu"] - got["sys"]))
                out[side]["sys"].append(got["sys"])
                for k in plain:
                    if k in got:
                        out[side][k].append(got[k])
    finally:
        for proc in procs.values():
            proc.close()
    return out


def fresh(dagster_python: str, runs: int) -> dict[str, dict[str, list[float]]]:
    keys = ("process", "process_cpu", "import_s", "frame_s", "wall", "cpu")
    out: dict[str, dict[str, list[float]]] = {s: {k: [] for k in keys} for s in SIDES}
    for i in range(runs):
        checks = {}
        for side in _order(i):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            proc = _Side(side, dagster_python, True, False)
            got = proc.read()
            if code := proc.close():
                raise RuntimeError(f"the {side} process failed (exit {code})")
            out[side]["process"].append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the one child reaped since
            out[side]["process_cpu"].append(
                after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            )
            for k in keys[2:]:
                out[side][k].append(got[k])
            checks[side] = got["check"]
        _same_answer(checks)
    return out


def _fmt(samples: list[float]) -> str:
    return f"{statistics.median(samples):.3f} s ({min(samples):.3f}-{max(samples):.3f})"


def _ratio(res: dict[str, dict[str, list[float]]], key: str) -> str:
    a = statistics.median(res["airfoil"][key])
    d = statistics.median(res["dagster"][key])
    return f"{a / d:.2f}x"


def _beside_plain_write(w: dict[str, dict[str, list[float]]]) -> None:
    """Airfoil's runs beside the plain writes of the same bytes in its process: the kernel's
    part of each, and Airfoil's CPU above each write's (each run paired with the writes
    beside it, the median of the differences) against Dagster's CPU."""
    air = w["airfoil"]
    dagster = statistics.median(w["dagster"]["cpu"])
    for name, label in (("plain_8mb", "a column a write"), ("plain_256k", "256 KiB writes")):
        cpu, kernel = air[f"{name}_cpu"], air[f"{name}_sys"]
        above = [a - p for a, p in zip(air["cpu"], cpu, strict=True)]
        print(
            f"  plain write of the same 80 MB to a new file, {label}, beside each run: CPU "
            f"{_fmt(cpu)}, kernel {_fmt(kernel)}; Airfoil's run's kernel CPU / the write's "
            f"{statistics.median(air['sys']) / statistics.median(kernel):.2f}x; Airfoil's run "
            f"less the write: CPU {_fmt(above)}, {statistics.median(above) / dagster:.2f}x "
            "Dagster's"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--dagster-python", help="the Python of a venv with Dagster installed")
    parser.add_argument("--runs", type=int, default=5, help="runs per side and way (median)")
    parser.add_argument(
        "--distinct",
        action="store_true",
        help="warm runs only, each on another frame (one value changed before the clocks "
        "start), so that Airfoil stores a new blob every run instead of finding the frame "
        "already stored",
    )
    parser.add_argument("--child", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.once, args.distinct)
        return
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, not {args.runs}")
    if not args.dagster_python:
        print(f"W4 beside Dagster: skipped (give --dagster-python; to make one: {INSTALL})")
        return
    version = _check_dagster_python(args.dagster_python)
    load = os.getloadavg()[0]
    print(
        f"W4: a 1M x 10 frame between two tasks, Airfoil's B4 against Dagster {version} "
        f"(mem_io_manager, execute_in_process), alternating, medians of {args.runs}; "
        f"load {load:.1f}"
    )
    w = warm(args.dagster_python, args.runs, args.distinct)
    for side in SIDES:
        print(
            f"  warm {side:8s} run wall {_fmt(w[side]['wall'])}, CPU {_fmt(w[side]['cpu'])}, "
            f"of which user {_fmt(w[side]['user'])}, kernel {_fmt(w[side]['sys'])}"
        )
    print(
        f"  warm Airfoil / Dagster: wall {_ratio(w, 'wall')}, CPU {_ratio(w, 'cpu')}, "
        f"user CPU {_ratio(w, 'user')}"
    )
    if args.distinct:
        _beside_plain_write(w)
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        return
    f = fresh(args.dagster_python, args.runs)
    for side in SIDES:
        r: dict[str, Any] = f[side]
        print(
            f"  fresh {side:8s} process {_fmt(r['process'])} (CPU {_fmt(r['process_cpu'])}): "
            f"imports {_fmt(r['import_s'])}, "
            f"frame {_fmt(r['frame_s'])}, run {_fmt(r['wall'])} (CPU {_fmt(r['cpu'])})"
        )
    print(
        f"  fresh Airfoil / Dagster: whole process wall {_ratio(f, 'process')}, "
        f"CPU {_ratio(f, 'process_cpu')}; the run inside it wall {_ratio(f, 'wall')}, "
        f"CPU {_ratio(f, 'cpu')}"
    )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
