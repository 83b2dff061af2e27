"""What the kernel charges for writing a new 80 MB frame to a file, and what a store could
change about it (issue 17's W4 with a new frame every run: ``bench_w4_dagster.py --distinct``).

Each case writes the bytes of B4's frame (1,000,000 x 10 float64, seeded: 80 MB) to a new
file, kept (as a blob store keeps a blob), on the filesystem of the temporary directory (where
``bench_core.py`` puts Airfoil's home), then reads it back the way Airfoil's reader does (a
private memory map, the columns summed); the write and the read are timed apart: CPU time
(``process_time``), its kernel part (``ru_stime``) and wall time. The cases, rotated a place
each round, medians of ``--rounds``:

- ``write 8 MB``: one ``os.write`` a column (how pyarrow writes the IPC stream's buffers, and
  so how Airfoil writes a frame);
- ``writev``: one ``os.writev`` of the ten columns;
- ``write 64 KiB``, ``write 256 KiB``: smaller writes (the page cache then holds the file in
  folios of that size, not the 2 MiB ones a large write gets where the filesystem has large
  folios, so the kernel may fill it from smaller free blocks);
- ``fallocate``: ``posix_fallocate`` of the whole size, then ``write 8 MB``;
- ``O_DIRECT``: the columns copied (outside the clocks) into an aligned buffer and written
  past the page cache, so that the read comes from the disk;
- ``anonymous``: no file: 80 MB of new anonymous memory written once and kept (what the
  same bytes cost the kernel as a private copy in memory); its "read" sums it.

Nothing here is Airfoil's code: it is the floor any store that keeps a frame in a file pays on
this host, and the choices such a store has. The files are removed at the end.
"""

from __future__ import annotations

import argparse
import mmap
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

SIZE = 80_000_000
_ALIGN = 4096


def _clocks() -> tuple[float, float, float]:
    return time.perf_counter(), time.process_time(), resource.getrusage(0).ru_stime


def _since(t: tuple[float, float, float]) -> tuple[float, float, float]:
    now = _clocks()
    return now[0] - t[0], now[1] - t[1], now[2] - t[2]


def _columns() -> list[memoryview]:
    frame = np.random.default_rng(0).random((1_000_000, 10))
    return [np.ascontiguousarray(frame[:, i]).data.cast("B") for i in range(10)]


def _write_all(fd: int, data: memoryview, chunk: int) -> None:
    for start in range(0, len(data), chunk):
        piece = data[start : start + chunk]
        while piece:
            piece = piece[os.write(fd, piece) :]


def _read_sum(path: str) -> float:
    """Sum the file's floats through a private mapping, as Airfoil's pandas reader maps it."""
    with open(path, "rb") as fh:
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
    try:
        values = np.frombuffer(mapped, dtype=np.float64, count=SIZE // 8)
        total = float(values.sum())
        del values
    finally:
        mapped.close()
    return total


class Cases:
    """The cases, each writing a new file named by a counter in ``folder``."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.columns = _columns()
        self.count = 0
        self.kept: list[mmap.mmap] = []
        self.aligned = mmap.mmap(-1, SIZE + _ALIGN)  # page-aligned, for O_DIRECT

    def _path(self) -> str:
        self.count += 1
        return os.path.join(self.folder, f"frame-{self.count}")

    def _to_file(
        self, write: Callable[[int], None], allocate: bool = False, flags: int = 0
    ) -> dict[str, Any]:
        path = self._path()
        t = _clocks()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | flags)
        try:
            if allocate:
                os.posix_fallocate(fd, 0, SIZE)
            write(fd)
        finally:
            os.close(fd)
        wrote = _since(t)
        t = _clocks()
        _read_sum(path)
        return {"write": wrote, "read": _since(t)}

    def _each_column(self, fd: int, chunk: int = 0) -> None:
        for column in self.columns:
            _write_all(fd, column, chunk or len(column))

    def write_8mb(self) -> dict[str, Any]:
        return self._to_file(self._each_column)

    def writev(self) -> dict[str, Any]:
        def write(fd: int) -> None:
            if os.writev(fd, self.columns) != SIZE:
                raise OSError("a short writev")

        return self._to_file(write)

    def write_64k(self) -> dict[str, Any]:
        return self._to_file(lambda fd: self._each_column(fd, 1 << 16))

    def write_256k(self) -> dict[str, Any]:
        return self._to_file(lambda fd: self._each_column(fd, 1 << 18))

    def fallocate(self) -> dict[str, Any]:
        return self._to_file(self._each_column, allocate=True)

    def o_direct(self) -> dict[str, Any]:
        view = memoryview(self.aligned)
        offset = 0
        for column in self.columns:  # outside the clocks: the copy a caller would need
            view[offset : offset + len(column)] = column
            offset += len(column)
        # SIZE is a multiple of 4096
        return self._to_file(lambda fd: _write_all(fd, view[:SIZE], 8 << 20), flags=os.O_DIRECT)

    def anonymous(self) -> dict[str, Any]:
        t = _clocks()
        memory = mmap.mmap(-1, SIZE)
        offset = 0
        for column in self.columns:
            memory[offset : offset + len(column)] = column
            offset += len(column)
        wrote = _since(t)
        self.kept.append(memory)
        t = _clocks()
        float(np.frombuffer(memory, dtype=np.float64).sum())
        return {"write": wrote, "read": _since(t)}


CASES = {
    "write 8 MB": Cases.write_8mb,
    "writev": Cases.writev,
    "write 64 KiB": Cases.write_64k,
    "write 256 KiB": Cases.write_256k,
    "fallocate": Cases.fallocate,
    "O_DIRECT": Cases.o_direct,
    "anonymous": Cases.anonymous,
}


def _fmt(rows: list[tuple[float, float, float]]) -> str:
    wall, cpu, kernel = (statistics.median(r[i] for r in rows) for i in range(3))
    return f"CPU {cpu:.3f} s (kernel {kernel:.3f}), wall {wall:.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--rounds", type=int, default=5, help="runs per case (median)")
    parser.add_argument("--dir", help="where the files go (default: the temporary directory)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, not {args.rounds}")
    folder = tempfile.mkdtemp(prefix="page-cost-", dir=args.dir)
    print(
        f"a new 80 MB file a run, kept, in {os.path.dirname(folder)}; medians of "
        f"{args.rounds}, cases rotated; load {os.getloadavg()[0]:.1f}"
    )
    names = list(CASES)
    got: dict[str, dict[str, list[Any]]] = {n: {"write": [], "read": []} for n in names}
    try:
        cases = Cases(folder)
        for i in range(args.rounds):
            k = i % len(names)
            for name in names[k:] + names[:k]:
                one = CASES[name](cases)
                got[name]["write"].append(one["write"])
                got[name]["read"].append(one["read"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for name in names:
        print(f"  {name:13s} write {_fmt(got[name]['write'])}; read {_fmt(got[name]['read'])}")
    print("  the writes' kernel CPU, round by round (ms; the host's page cost comes and goes):")
    for name in names:
        print(f"  {name:13s} " + " ".join(f"{r[2] * 1000:4.0f}" for r in got[name]["write"]))
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
