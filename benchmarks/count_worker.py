"""Deterministic cost of one trivial attempt in a process executor's worker: instructions
(callgrind) and system calls (strace), steady against a loaded machine.

A worker process (the executor's own loop, ``worker_main``, over a socket pair) is fed
trivial attempts one at a time by this process. It runs twice: with ``--warm`` attempts,
then with ``--warm`` + ``--runs`` attempts; the difference divided by ``--runs`` is what one
warm attempt costs the worker (its start, imports and first attempts cancel out). Only the
worker is counted, not this process.

    python benchmarks/count_worker.py                   # instructions and syscalls
    python benchmarks/count_worker.py --only syscalls   # strace only (fast)
    python benchmarks/count_worker.py --only cpu        # user and system CPU (not steady)

To compare two trees (e.g. ``main`` and a branch), run it with each tree's ``src`` on
``PYTHONPATH``. Time spent in the kernel is not counted by callgrind.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from multiprocessing import Pipe

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

import msgspec
from bench_process_executor import _request, _setup

from airfoil.executors._process_worker import WorkerMessage
from airfoil.executors.base import attempt_log_key
from airfoil.runtime._packages import PACKAGE_PREFIX

CHILD = """
import sys
from multiprocessing.connection import Connection
from airfoil.executors._process_worker import worker_main
from airfoil.runtime.worker import worker_runtime
worker_main(Connection(int(sys.argv[1])), sys.argv[2], False, worker_runtime)
"""


def _requests(n: int, server: bool) -> tuple[str, list[bytes]]:
    """The blob store and ``n`` encoded trivial attempts (bench_process_executor's task).

    ``server``: as a server's engine sends them, with a log key each and the code root a
    registered package's reference (its folder already unpacked in the package cache,
    ``AIRFOIL_PACKAGE_CACHE``, which the worker inherits)."""
    code, blob_dir, inc, conv, _ = _setup()
    enc = msgspec.msgpack.Encoder()
    reqs = [_request(inc, code, blob_dir, conv, i) for i in range(n)]
    if server:
        sha = "0" * 64
        cache = os.path.join(os.path.dirname(blob_dir), "packages")
        os.makedirs(cache)
        shutil.copytree(code, os.path.join(cache, sha))
        os.environ["AIRFOIL_PACKAGE_CACHE"] = cache
        reqs = [
            msgspec.structs.replace(
                r,
                log_key=attempt_log_key(r.execution_id, r.node_id, 1),
                code_root=f"{PACKAGE_PREFIX}{sha}:{blob_dir}",
            )
            for r in reqs
        ]
    return blob_dir, [enc.encode(r) for r in reqs]


def _run(wrapper: list[str], root: str, reqs: tuple[str, list[bytes]]) -> str:
    """Run a worker under ``wrapper`` through ``reqs`` (the blob store they name, the
    requests) one at a time; its stderr."""
    blob_dir, requests = reqs
    script = os.path.join(root, "child.py")
    with open(script, "w") as f:
        f.write(CHILD)
    ours, theirs = Pipe(duplex=True)
    fd = theirs.fileno()
    proc = subprocess.Popen(
        [*wrapper, sys.executable, script, str(fd), blob_dir],
        pass_fds=[fd],
        stderr=subprocess.PIPE,
        text=True,
    )
    theirs.close()
    dec = msgspec.msgpack.Decoder(WorkerMessage)
    for data in requests:
        ours.send_bytes(data)
        msg = dec.decode(ours.recv_bytes())
        assert msg.result is not None and msg.result.error is None, msg
    ours.send_bytes(b"")
    _, err = proc.communicate()
    assert proc.returncode == 0, err
    return err


def instructions(root: str, reqs: tuple[str, list[bytes]]) -> int:
    out = os.path.join(root, "cg.out")
    err = _run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"], root, reqs)
    match = re.search(r"Collected : (\d+)", err)
    if match is None:
        raise RuntimeError(f"no instruction count in callgrind's output:\n{err}")
    return int(match.group(1))


def cpu(root: str, reqs: tuple[str, list[bytes]]) -> tuple[float, float]:
    """User and system CPU seconds of a plain worker through ``reqs`` (its children's)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    _run([], root, reqs)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def syscalls(root: str, reqs: tuple[str, list[bytes]]) -> dict[str, int]:
    out = os.path.join(root, "strace.out")
    _run(["strace", "-f", "-c", "-o", out], root, reqs)
    counts: dict[str, int] = {}
    with open(out) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 5 and parts[3].isdigit():
                counts[parts[-1]] = int(parts[3])
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument(
        "--server", action="store_true", help="log keys and a package code root, as a server"
    )
    parser.add_argument("--only", choices=["instructions", "syscalls", "cpu"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="airfoil-count-worker-") as root:
        blob_dir, reqs = _requests(args.warm + args.runs, args.server)
        short, long = (blob_dir, reqs[: args.warm]), (blob_dir, reqs)
        if args.only in (None, "syscalls"):
            a, b = syscalls(root, short), syscalls(root, long)
            per = {k: (b.get(k, 0) - a.get(k, 0)) / args.runs for k in b}
            per = {k: v for k, v in per.items() if v >= 0.05 and k != "total"}
            total = (b.get("total", 0) - a.get("total", 0)) / args.runs
            shown = ", ".join(f"{k} {v:.2f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1]))
            print(f"worker syscalls per attempt: {total:.2f} ({shown})", flush=True)
        if args.only == "cpu":  # not steady: the median of 5 pairs
            users, systems = [], []
            for _ in range(5):
                (u1, s1), (u2, s2) = cpu(root, short), cpu(root, long)
                users.append((u2 - u1) / args.runs * 1e6)
                systems.append((s2 - s1) / args.runs * 1e6)
            print(
                f"worker CPU per attempt (median of 5): user {statistics.median(users):.1f} us, "
                f"system {statistics.median(systems):.1f} us",
                flush=True,
            )
        if args.only in (None, "instructions"):
            a2, b2 = instructions(root, short), instructions(root, long)
            print(
                f"worker instructions per attempt: {(b2 - a2) / args.runs:,.0f} "
                f"(over {args.runs} attempts after {args.warm})",
                flush=True,
            )


if __name__ == "__main__":
    main()
