"""What checking a stored file's BLAKE3 costs, by the way the file is read (issue 17).

``airfoil.types._digests.digest_file`` hashes a frame's or an array's blob when a reader
checks it (once per process and file: ``_integrity``). Until this change it allocated an
8 MiB ``bytearray`` on every call and read the file into it; a server's API threads and
engines call it per read, so each call paid 8 MiB of new memory (its pages faulted in, and
on this VM, whose free memory is handed back to the host, often a host fault a page: see
docs/performance.md, "Why the pages cost"). The ways measured, in one process, rotated a
place each round:

- ``main 8 MiB``: ``main``'s function (a new 8 MiB buffer a call, ``readinto``);
- ``readinto 1 MiB``, ``readinto 256 KiB``: the same with a smaller new buffer;
- ``update_mmap``: the ``blake3`` package's own ``update_mmap(path)`` (Rust maps the file;
  one thread: the hasher's default ``max_threads=1``);
- ``mmap + update``: Python's ``mmap`` of the file handed to ``update`` whole;
- ``current``: ``digest_file`` as this tree has it.

For each file size (``--sizes``, MB; default 1, 80, 800: a file in the page cache, written
once before the rounds) and each way: CPU (``process_time``), wall, minor page faults
(``ru_minflt``) and the peak RSS the call added (``VmHWM`` after ``clear_refs`` reset it to
the RSS before), medians of ``--rounds``. ``--threads`` runs each call in a new thread (a
server's pool: a new thread's first allocation takes its own arena). ``--fresh`` runs each
call as the first of a new process (what a call costs before the allocator holds an 8 MiB
block to reuse, and the RSS the process keeps after it: "held"). Every way's digest is
checked against the others'. The files are removed at the end.
"""

from __future__ import annotations

import argparse
import mmap
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

import blake3

from airfoil.types._digests import BLAKE3, digest_file

_PIECE = 256 * 1024


def _main_8mib(path: str) -> str:
    """``main``'s ``digest_file`` for BLAKE3 (2ec0f908)."""
    with open(path, "rb") as fh:
        h = blake3.blake3()
        buf = bytearray(8 * 1024 * 1024)
        view = memoryview(buf)
        while n := fh.readinto(buf):
            h.update(view[:n])
        return str(h.hexdigest())


def _readinto(size: int) -> Callable[[str], str]:
    def run(path: str) -> str:
        with open(path, "rb") as fh:
            h = blake3.blake3()
            buf = bytearray(size)
            view = memoryview(buf)
            while n := fh.readinto(buf):
                h.update(view[:n])
            return str(h.hexdigest())

    return run


def _update_mmap(path: str) -> str:
    h = blake3.blake3()
    h.update_mmap(path)
    return str(h.hexdigest())


def _python_mmap(path: str) -> str:
    h = blake3.blake3()
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size:
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                h.update(mm)
    return str(h.hexdigest())


WAYS: dict[str, Callable[[str], str]] = {
    "main 8 MiB": _main_8mib,
    "readinto 1 MiB": _readinto(1 << 20),
    "readinto 256 KiB": _readinto(256 << 10),
    "update_mmap": _update_mmap,
    "mmap + update": _python_mmap,
    "current": lambda path: digest_file(path, BLAKE3),
}


def _status(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _measure(fn: Callable[[str], str], path: str, threaded: bool) -> tuple[float, ...]:
    out: list[str] = []
    peak_ok = _reset_peak()
    rss0 = _status("VmRSS")
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    wall0, cpu0 = time.perf_counter(), time.process_time()
    if threaded:
        t = threading.Thread(target=lambda: out.append(fn(path)))
        t.start()
        t.join()
    else:
        out.append(fn(path))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0
    peak = (_status("VmHWM") - rss0) if peak_ok else float("nan")
    held = _status("VmRSS") - rss0
    _measure.digests.setdefault(path, set()).add(out[0])  # type: ignore[attr-defined]
    return cpu, wall, faults, peak, held


def _fresh(way: str, path: str, threaded: bool) -> tuple[float, ...]:
    """One call, the first of a new process (its interpreter and imports outside the clocks)."""
    cmd = [sys.executable, __file__, "--one", way, path] + (["--threads"] if threaded else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()
    _measure.digests.setdefault(path, set()).add(out[-1])  # type: ignore[attr-defined]
    return tuple(float(x) for x in out[:-1])


_measure.digests = {}  # type: ignore[attr-defined]


def _make(folder: str, mb: int) -> str:
    path = os.path.join(folder, f"blob-{mb}MB")
    size = mb * 1_000_000
    chunk = os.urandom(_PIECE)
    with open(path, "wb") as fh:
        written = 0
        while written < size:
            n = min(_PIECE, size - written)
            fh.write(chunk[:n])
            written += n
    with open(path, "rb") as fh:  # in the page cache before the rounds
        while fh.read(1 << 20):
            pass
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,80,800", help="file sizes in MB")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", action="store_true", help="each call in a new thread")
    parser.add_argument("--fresh", action="store_true", help="each call in a new process")
    parser.add_argument("--ways", default=",".join(WAYS), help="which ways, comma-separated")
    parser.add_argument("--one", nargs=2, metavar=("WAY", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        way, path = args.one
        figures = _measure(WAYS[way], path, args.threads)
        print(*figures, next(iter(_measure.digests[path])))  # type: ignore[attr-defined]
        return
    ways = [w.strip() for w in args.ways.split(",") if w.strip()]
    folder = tempfile.mkdtemp(prefix="airfoil-bench-digest-")
    try:
        for mb in (int(s) for s in args.sizes.split(",")):
            path = _make(folder, mb)
            rounds = args.rounds if mb < 500 else max(3, args.rounds // 2)
            samples: dict[str, list[tuple[float, ...]]] = {w: [] for w in ways}
            for r in range(rounds):
                for w in ways[r % len(ways) :] + ways[: r % len(ways)]:
                    if args.fresh:
                        samples[w].append(_fresh(w, path, args.threads))
                    else:
                        samples[w].append(_measure(WAYS[w], path, args.threads))
            if len(_measure.digests[path]) != 1:  # type: ignore[attr-defined]
                raise SystemExit(f"the ways disagree on {path}'s digest")
            where = "a new thread a call" if args.threads else "the main thread"
            where += ", the first call of a new process" if args.fresh else ""
            print(f"\n{mb} MB, medians of {rounds} ({where})")
            print(
                f"{'way':<18} {'CPU ms':>8} {'wall ms':>8} {'faults':>7} {'peak RSS MB':>11} "
                f"{'held MB':>8}"
            )
            for w in ways:
                columns = zip(*samples[w], strict=True)
                cpu, wall, faults, peak, held = (statistics.median(c) for c in columns)
                print(
                    f"{w:<18} {cpu * 1e3:8.2f} {wall * 1e3:8.2f} {faults:7.0f} "
                    f"{peak / 1e6:11.2f} {held / 1e6:8.2f}"
                )
            os.remove(path)
    finally:
        for name in os.listdir(folder):
            os.remove(os.path.join(folder, name))
        os.rmdir(folder)


if __name__ == "__main__":
    main()
