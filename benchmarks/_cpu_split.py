"""Where a ``bench_server.py`` round's CPU went: snapshots of the server's process groups
(its API process, its engine process, its workers, its PostgreSQL backends, PostgreSQL's
own processes, the prober's process, the benchmark's own) and of the machine, read in one
go so that the groups and "the rest" add up to the machine over the same span; and, for
``--rest-top N``, what the rest was (``print_rest``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa

#: the process groups a snapshot counts (``Cpu.snapshot``)
_GROUPS = ("bench", "server", "engine", "workers", "db", "pg_bg", "prober")


class _Proc(NamedTuple):
    """A process's CPU seconds (its own; its ended children's that it reaped), name and
    parent, as ``Cpu.everyone`` read them."""

    own: float
    reaped: float
    name: str
    ppid: int


class Cpu:
    """CPU seconds of the server, its workers, its PostgreSQL backends and the machine.

    A snapshot finds its processes first (the server's children, the backends by name on
    one connection kept open, whose backend is counted with this benchmark's process), then
    reads every process's CPU and the machine's last, in one go: so the machine's CPU
    between two snapshots is what the groups' CPU between them is part of. A process that
    starts and ends between two snapshots (a spawned prober, a backend of a connection
    opened and closed) counts in the machine's CPU and in no group: the round starts its
    prober before its first snapshot (``_round``) and ``--rest-top`` names such processes
    by the parent that reaped them."""

    def __init__(self, server_pid: int, admin: sa.Engine, tag: str) -> None:
        import psutil

        self.psutil = psutil
        self.server = psutil.Process(server_pid)
        self.admin = admin
        self.tag = tag
        self.conn = admin.connect()  # kept: a connection a snapshot is a backend that exits
        self.own_backend = int(self.conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
        self.conn.commit()  # idle, not idle in a transaction (that would hold back vacuum)

    def close(self) -> None:
        self.conn.close()

    def _engines(self) -> list[Any]:
        """The server's engine process (its driver slots in a process of their own, where
        the server runs them so): the child forked from it (its command line), not one of
        the process executor's helpers (forkserver, resource tracker)."""
        found = []
        try:
            command = self.server.cmdline()
            for child in self.server.children():
                try:
                    if child.cmdline() == command:
                        found.append(child)
                except self.psutil.Error:
                    pass
        except self.psutil.Error:
            pass
        return found

    def _backends(self) -> tuple[list[int], list[int]]:
        """The server's backends (by name: ``server_backends``) and PostgreSQL's own
        processes (WAL writer, checkpointer, background writer, autovacuum: every
        database's), which no client's connection names; read on the kept connection."""
        names = {self.tag, f"{self.tag}-api", f"{self.tag}-engine"}
        found = self.conn.execute(
            sa.text("SELECT pid, application_name, backend_type FROM pg_stat_activity")
        ).all()
        self.conn.commit()  # no transaction left open (it would hold back vacuum)
        server = [int(pid) for pid, name, _ in found if name in names]
        own = [int(pid) for pid, _, kind in found if kind != "client backend"]
        return server, own

    def _cpu(self, pid: int) -> float:
        try:
            t = self.psutil.Process(pid).cpu_times()
            return float(t.user + t.system)
        except self.psutil.Error:
            return 0.0

    def snapshot(self, prober: int | None = None, everyone: bool = False) -> dict[str, Any]:
        """The groups' CPU seconds so far (``prober``: the prober's process, if any), with
        ``everyone`` every process's (``--rest-top``), and the machine's, read last."""
        engines = self._engines()
        skip = {p.pid for p in engines}
        workers = [p.pid for p in self.server.children(recursive=True) if p.pid not in skip]
        db, pg_bg = self._backends()
        groups = {
            "bench": [os.getpid(), self.own_backend],
            "server": [self.server.pid],
            "engine": [p.pid for p in engines],
            "workers": [pid for pid in workers if pid != prober],
            "db": db,
            "pg_bg": pg_bg,
            "prober": [prober] if prober else [],
        }
        read = {k: {pid: self._cpu(pid) for pid in pids} for k, pids in groups.items()}
        everyone_read = self.everyone() if everyone else {}
        machine = machine_busy(self.psutil.cpu_times())
        return {**read, "everyone": everyone_read, "machine": machine}

    def everyone(self) -> dict[int, _Proc]:
        """Every process's CPU seconds so far, the CPU of its children that ended and that
        it reaped, its name and its parent (``--rest-top``); and the kernel's own time
        outside any process (interrupts, soft interrupts) as pid 0, the hypervisor's steal
        as -1 and the newest pid the kernel handed out as -2 (in ``own``)."""
        found: dict[int, _Proc] = {}
        for p in self.psutil.process_iter(["name", "cpu_times", "ppid"]):
            t = p.info["cpu_times"]
            if t is not None:
                own, reaped = t.user + t.system, t.children_user + t.children_system
                found[p.pid] = _Proc(own, reaped, str(p.info["name"]), p.info["ppid"] or 0)
        t = self.psutil.cpu_times()
        found[0] = _Proc(t.irq + t.softirq, 0.0, "irq+softirq", 0)
        found[-1] = _Proc(t.steal, 0.0, "steal", 0)
        newest = Path("/proc/loadavg").read_text().split()[-1]  # a process's or thread's
        found[-2] = _Proc(float(newest), 0.0, "newest pid", 0)
        return found

    @staticmethod
    def split(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
        def grew(key: str) -> float:
            return sum(v - before[key].get(pid, 0.0) for pid, v in after[key].items())

        return {**{k: grew(k) for k in _GROUPS}, "machine": after["machine"] - before["machine"]}


def machine_busy(t: Any) -> float:
    """The machine's busy CPU seconds from ``psutil.cpu_times()``: user (a guest's time is
    in it already, so ``guest`` is not added again), nice, system, irq, softirq. Not idle,
    not iowait (idle, waiting on a disk), not steal (the hypervisor ran someone else)."""
    return float(t.user + t.nice + t.system + t.irq + t.softirq)


def print_rest(
    before: dict[str, Any],
    after: dict[str, Any],
    tasks: int,
    top: int,
    rest: float,
) -> None:
    """What "the rest" of a round's CPU was (``--rest-top N``), in ms a task: the kernel's
    time outside any process (irq, softirq; steal apart: not the machine's busy time); the
    N processes outside the server, its workers, its backends, PostgreSQL's own processes,
    the prober and this process that used the most CPU in the round; the processes that
    ended in the round (one that starts and ends within it shows in neither snapshot), by
    the parent that reaped them, their CPU in the round (what the reaper's count of its
    ended children grew, less what those that ran before the round had used by then); the
    pids the kernel handed out (processes and threads started); and what none of these
    explain (the 10 ms ticks' rounding: +-0.01 ms a task a process at 4,040 tasks)."""
    first: dict[int, _Proc] = before["everyone"]
    last: dict[int, _Proc] = after["everyone"]
    groups = [v for snap in (before, after) for k, v in snap.items() if k in _GROUPS]
    known = {pid for group in groups for pid in group}
    ms = 1000 / tasks
    kernel, steal = (last[k].own - first[k].own for k in (0, -1))
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    pids = int(last[-2].own - first[-2].own) % pid_max
    procs = {pid: p for pid, p in last.items() if pid > 0}
    zero = _Proc(0.0, 0.0, "", 0)
    outside = {
        pid: p.own - first.get(pid, zero).own for pid, p in procs.items() if pid not in known
    }
    reaped = {pid: p.reaped - first.get(pid, zero).reaped for pid, p in procs.items()}
    for pid, p in first.items():  # ended in the round: its CPU before it is not the round's
        if pid > 0 and pid not in last and p.ppid in reaped:
            reaped[p.ppid] -= p.own + p.reaped
    reaped = {pid: cpu for pid, cpu in reaped.items() if cpu > 0}

    def ranked(used: dict[int, float]) -> str:
        best = sorted(used.items(), key=lambda kv: -kv[1])[:top]
        return ", ".join(f"{procs[pid].name}[{pid}] {cpu * ms:.3f}" for pid, cpu in best)

    named = sum(outside.values()) + sum(reaped.values())
    print(
        f"  the rest {rest:.3f} ms/task: the kernel outside processes (irq, softirq) "
        f"{kernel * ms:.3f}; processes outside the groups {sum(outside.values()) * ms:.3f} "
        f"(top: {ranked(outside)}); processes that ended in the round, by who reaped them "
        f"{sum(reaped.values()) * ms:.3f} ({ranked(reaped) or 'none'}); unexplained "
        f"{rest - (kernel + named) * ms:.3f}; pids handed out {pids}; steal (not counted) "
        f"{steal * ms:.3f}",
        flush=True,
    )
