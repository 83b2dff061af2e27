"""The CLI as a user meets it: what the live view costs, and a whole `airfoil run` process.

L1  `airfoil run` of 200 tasks of 0.02 s, with a pseudo-terminal on stderr (the live view
    draws) against the same command piped (no live view): the view's cost, as a median
    of several alternating runs. Budget: <= 5 %.
L2  `airfoil run examples/hello.py wf`, whole process, with PYTHONDONTWRITEBYTECODE=1 (as
    in many containers): the first run in a fresh AIRFOIL_HOME (cold: it creates the
    database) beside a run in an existing home (warm), alternating, medians of each.
    Budget: <= 0.5 s both, after `make install` (which byte-compiles what it installs).

    python benchmarks/bench_cli.py [L1] [L2]
"""

from __future__ import annotations

import fcntl
import os
import pty
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import textwrap
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AIRFOIL = [sys.executable, "-m", "airfoil.cli"]

CHAIN = textwrap.dedent(
    """
    import time
    import airfoil as af

    @af.task
    def step(x: int) -> int:
        time.sleep(0.02)
        return x + 1

    @af.workflow
    def chain(x: int = 0) -> int:
        for _ in range(200):
            x = step(x=x)
        return x
    """
)


def _run_with_pty(cmd: list[str], env: dict[str, str], rows: int = 40, cols: int = 120) -> float:
    """Wall seconds of ``cmd`` with stderr (and stdout) on a pseudo-terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    code = proc.wait()
    took = time.perf_counter() - t0
    reader.join(timeout=5)
    os.close(master)
    if code != 0:
        raise SystemExit(f"{cmd} failed ({code}): {b''.join(chunks)[-2000:]!r}")
    return took


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_piped(cmd: list[str], env: dict[str, str], cpu: list[float] | None = None) -> float:
    c0 = _children_cpu()
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    took = time.perf_counter() - t0
    if cpu is not None:  # CPU seconds: far less sensitive than wall time to a loaded machine
        cpu.append(_children_cpu() - c0)
    return took


def l1(runs: int = 5) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        flow = os.path.join(tmp, "chain.py")
        with open(flow, "w") as fh:
            fh.write(CHAIN)
        env = dict(os.environ, AIRFOIL_HOME=os.path.join(tmp, "home"), TERM="xterm-256color")
        env.pop("COLUMNS", None)
        env.pop("LINES", None)
        cmd = [*AIRFOIL, "run", flow, "chain"]
        _run_piped(cmd, env)  # warm-up: the database, the page cache
        with_tty: list[float] = []
        piped: list[float] = []
        for _ in range(runs):  # alternate, so drifting machine load hits both alike
            with_tty.append(_run_with_pty(cmd, env))
            piped.append(_run_piped(cmd, env))
    mt, mp = statistics.median(with_tty), statistics.median(piped)
    print(
        f"L1 200 tasks of 0.02 s, whole process: with a terminal (live view) median {mt:.2f} s "
        f"(spread {min(with_tty):.2f}-{max(with_tty):.2f}), piped median {mp:.2f} s "
        f"(spread {min(piped):.2f}-{max(piped):.2f}), n={runs}; live view costs "
        f"{100 * (mt - mp) / mp:+.1f} %; load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} CPUs  [budget <= 5 %]",
        flush=True,
    )


def l2(runs: int = 7) -> None:
    hello = os.path.join(ROOT, "examples", "hello.py")
    cmd = [*AIRFOIL, "run", hello, "wf"]
    cold: list[float] = []
    cold_cpu: list[float] = []
    warm: list[float] = []
    cpu: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        warm_env = dict(base, AIRFOIL_HOME=os.path.join(tmp, "home"))
        _run_piped(cmd, warm_env)  # the warm home's database exists from here on
        for i in range(runs):  # alternate, so load affects both alike
            fresh = dict(base, AIRFOIL_HOME=os.path.join(tmp, f"fresh{i}"))
            cold.append(_run_piped(cmd, fresh, cold_cpu))  # creates the database
            warm.append(_run_piped(cmd, warm_env, cpu))
        bare = [_run_piped([sys.executable, "-c", "pass"], base) for _ in range(runs)]
    print(
        f"L2 `airfoil run examples/hello.py wf` whole process, PYTHONDONTWRITEBYTECODE=1, "
        f"n={runs} alternating: cold (a fresh AIRFOIL_HOME: creates the database) median "
        f"{statistics.median(cold):.2f} s wall (spread {min(cold):.2f}-{max(cold):.2f}) / "
        f"{statistics.median(cold_cpu):.2f} s CPU; warm median {statistics.median(warm):.2f} s "
        f"wall (spread {min(warm):.2f}-{max(warm):.2f}) / {statistics.median(cpu):.2f} s CPU; "
        f"bare `python -c pass` {statistics.median(bare):.3f} s; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs  [budget <= 0.5 s, cold and warm]",
        flush=True,
    )


ALL = {"L1": l1, "L2": l2}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(ALL):
        ALL[name.upper()]()
