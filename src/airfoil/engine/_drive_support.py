"""Small pieces the driver loop uses: its retry timers, where local runs read secrets,
whether the holder of a lease is a process of this host that has exited, which batches the
item journal takes, the event an attempt's result becomes, and the wait for more results
that lets several attempts' ends share one commit."""

from __future__ import annotations

import heapq
import os
import socket
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field

from airfoil.core.clock import Clock
from airfoil.core.records import StoreBatch
from airfoil.engine._events import AttemptFinished
from airfoil.executors.base import AttemptResult, Executor
from airfoil.store.base import MetaStore
from airfoil.store.stores import secret_env_name

__all__ = [
    "Timers",
    "env_secret",
    "finished_event",
    "holder_is_dead",
    "holder_is_running",
    "items_only",
    "linger",
    "process_owner",
    "renew_reservations",
    "reserve",
    "secret_env_name",
]


@dataclass
class Timers:
    """Retry timers of one drive: node ids by the time they are due."""

    heap: list[tuple[float, int, str]] = field(default_factory=list)
    counter: int = 0

    def push(self, at: float, node_id: str) -> None:
        self.counter += 1
        heapq.heappush(self.heap, (at, self.counter, node_id))

    def due(self, now: float) -> list[str]:
        out = []
        while self.heap and self.heap[0][0] <= now:
            out.append(heapq.heappop(self.heap)[2])
        return out

    def next_in(self, now: float) -> float | None:
        return max(0.0, self.heap[0][0] - now) if self.heap else None


def env_secret(name: str) -> str | None:
    """The default secret source of local runs: ``AIRFOIL_SECRET_<NAME>``."""
    return os.environ.get(secret_env_name(name))


def process_owner() -> str:
    """This process's name as a lease holder: ``host:pid:mark-nonce``, ``mark`` naming the
    process itself (``start[.namespace.boot]``, see ``_started`` and ``_pid_space``) so that
    ``holder_is_dead`` and ``holder_is_running`` can tell it from another process with its
    pid: one of another pid namespace under the same host name (containers with host
    networking), or one that got the pid after this process exited. The drivers, launchers
    and deployment supervisors all name themselves so."""
    pid = os.getpid()
    mark = f"{_started(pid) or ''}{_pid_space()}"
    return f"{socket.gethostname()}:{pid}:{mark}-{uuid.uuid4().hex[:8]}"


def _started(pid: int) -> str | None:
    """When process ``pid`` (of this process's pid namespace) began, in base 36: clock ticks
    since boot (``/proc``; exact, unlike a wall-clock time derived from them) or centiseconds
    since the epoch (psutil, where there is no ``/proc``); None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            # field 22, counted after the command name (which may hold spaces and parens)
            return _b36(int(fh.read().rpartition(b")")[2].split()[19]))
    except FileNotFoundError:
        if os.path.isdir("/proc/self"):
            return None  # no such process
    except (OSError, ValueError, IndexError):
        return None
    import psutil

    try:
        return _b36(round(psutil.Process(pid).create_time() * 100))
    except psutil.Error:
        return None


def _pid_space() -> str:
    """``.``, this process's pid namespace (its inode, base 36), ``.`` and this machine's boot
    (``_boot``), or "" where neither shows.

    The namespace alone does not name a machine: every machine's initial pid namespace has
    the same inode (the kernel's ``PROC_PID_INIT_INO``), so two machines of one host name
    (a default image's, ``localhost``) gave their processes the same mark, and a live holder
    on the other one whose pid is free here was taken for one that exited (its lease taken
    at once, its execution driven twice)."""
    try:
        space = _b36(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        space = ""
    boot = _boot()
    return f".{space}.{boot}" if boot else (f".{space}" if space else "")


_BOOT: list[str] = []


def _boot() -> str:
    """This boot of this machine: the first 12 hex digits of the kernel's random boot id
    (Linux; shared by the containers of one host, which their pid namespaces tell apart), or
    the boot time in seconds, base 36 (psutil, elsewhere); read once per process."""
    if not _BOOT:
        try:
            with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
                _BOOT.append(fh.read().strip().replace("-", "")[:12])
        except OSError:
            import psutil

            try:
                _BOOT.append(_b36(int(psutil.boot_time())))
            except (psutil.Error, OSError, ValueError):
                _BOOT.append("")
    return _BOOT[0]


def _b36(n: int) -> str:
    digits = ""
    while True:
        n, d = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[d] + digits
        if not n:
            return digits


def _other_local_pid(owner: str) -> tuple[int, str | None] | None:
    """The pid of a lease holder ``host:pid:nonce`` that is another process of this host, and
    the holder's mark (``process_owner``; None in names older than marks)."""
    parts = owner.split(":")
    if len(parts) < 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return None
    pid = int(parts[1])
    mark, sep, _ = parts[2].partition("-")
    return None if pid == os.getpid() else (pid, mark if sep else None)


def _same_process(pid: int, mark: str | None) -> bool | None:
    """Whether process ``pid`` of this host is the holder that wrote ``mark``: None when that
    cannot be told (no mark, or the holder's pid namespace or machine boot is not this
    process's: a mark without the boot, written before it was part of it, included), False
    when it is another process or none (the pid was reused, or is free)."""
    if mark is None:
        return None
    start, dot, space = mark.partition(".")
    if (dot + space) != _pid_space():
        return None  # another pid namespace: its pids are not this one's
    return _started(pid) == start


def holder_is_dead(owner: str) -> bool:
    """Whether a lease holder ``host:pid:nonce`` is a process of this host that has exited.

    A holder that named its process (``process_owner``) is dead if its pid is free in its
    own pid namespace (this one) or if that process is its, a zombie. Another process in its
    pid says nothing sure (the same host name may be shared by hosts): the lease's expiry
    decides then, as it does for a holder of another pid namespace."""
    import psutil

    local = _other_local_pid(owner)
    if local is None:
        return False
    pid, mark = local
    same = _same_process(pid, mark)
    if mark is not None and same is None:
        return False
    try:
        proc = psutil.Process(pid)
        if same is False:
            return False  # another process has the pid now: the holder may be elsewhere
        return bool(proc.status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def holder_is_running(owner: str, expires_at: float) -> int | None:
    """The pid of a lease holder ``host:pid:nonce`` that is another process of this host, still
    running (not exited, not stopped), and that holder's process (``process_owner``; for
    a holder named without its process, old enough to have taken the lease that expires at
    ``expires_at``: a younger process of that pid is another program), or None.

    Such a holder is alive although its lease lapsed: its heartbeat thread cannot run while
    its inline task is C code holding the GIL (a long numpy or regex call), and it writes its
    result when the call returns. Taking its execution over would run the task twice.
    """
    import psutil

    local = _other_local_pid(owner)
    if local is None:
        return None
    pid, mark = local
    if mark is not None and not _same_process(pid, mark):
        return None  # not the holder's process, or none to tell: the lease's expiry decides
    try:
        proc = psutil.Process(pid)
        status, born = proc.status(), proc.create_time()
    except psutil.Error:  # exited, or not ours to inspect: the lease's expiry decides
        return None
    if status in _NOT_RUNNING or (mark is None and born > expires_at):
        return None
    return pid


#: A holder in one of these states is not driving (a stopped process, Ctrl-Z, may be taken
#: over: its fenced writes fail when it continues).
_NOT_RUNNING = frozenset({"zombie", "dead", "stopped", "tracing-stop"})


def items_only(batch: StoreBatch) -> bool:
    """Whether a batch holds nothing but attempts of map items."""
    if batch.execution is not None or batch.nodes or batch.events or batch.cache_puts:
        return False
    # "n4[17]": engine-made node ids end with "]" only as map items (checked per batch)
    for a in batch.attempts:
        nid = a.node_id
        if not nid.endswith("]") or "[" not in nid:
            return False
    return True


def finished_event(r: AttemptResult, now: float, cause: int) -> AttemptFinished:
    """The event of an attempt's result, caused by the entry that started the attempt."""
    return AttemptFinished(
        node_id=r.node_id,
        attempt=r.attempt,
        outputs=r.outputs,
        error=r.error,
        started_at=r.started_at,
        now=max(now, r.ended_at),
        log_uri=r.log_uri,
        worker=r.worker,
        cause=cause,
        ran_version=r.ran_version,
        queued_s=r.queued_s,
    )


def linger(
    executor: Executor,
    results: list[AttemptResult],
    running: Collection[str],
    submitted_in: dict[str, int],
    linger_s: float,
) -> list[AttemptResult]:
    """``results`` (just polled) and those of the ``running`` attempts that were submitted
    in the same turn as the earliest of them or later (``submitted_in``: node id -> the
    loop's turn), waiting up to ``linger_s`` for them (``EngineSettings.result_linger_s``):
    their ends then share one commit. Forgets the turns of every attempt that came back.

    Attempts submitted in earlier turns are not waited for: they have already run longer
    than the ones that came back (a long task beside short ones), so they are unlikely to
    end within the wait.
    """
    back = {r.node_id for r in results}
    first = min(submitted_in.get(n, 0) for n in back)
    due = [n for n in running if n not in back and submitted_in.get(n, 0) >= first]
    if due:
        until = time.monotonic() + linger_s
        while (left := until - time.monotonic()) > 0:
            more = executor.poll(left)
            if not more:
                break
            results.extend(more)
            back.update(r.node_id for r in more)
            if all(n in back for n in due):
                break
    for n in back:
        submitted_in.pop(n, None)
    return results


def reserve(
    meta: MetaStore, key: str, owner: str, now: float, ttl_s: float, held: Collection[str]
) -> str:
    """Reserve ``key`` for a node of the drive ``owner`` (``driver/execution``) that holds the
    keys ``held``; the holder after the call (``owner``: the node may run).

    A key the drive holds already is another node's of the same execution (the same task on
    the same inputs): this node waits for its result, as a twin in another execution does.
    (Asking the store would answer ``owner``, the drive's own, and both nodes ran.) A
    reservation held by
    another driver *of the same execution* is taken back at once: that driver was killed or
    lost the execution's lease, which this drive holds now, so it can write nothing more.
    Waiting out its time to live stalled a resumed execution (or one taken over by another
    server) for ``ttl_s`` before it ran its own task again.
    """
    if key in held:
        return f"{owner} (another node)"
    holder = meta.reserve_cache(key, owner, now, ttl_s)
    execution = owner.rpartition("/")[2]
    if holder != owner and holder.rpartition("/")[2] == execution:
        meta.release_cache(key, holder)
        holder = meta.reserve_cache(key, owner, now, ttl_s)
    return holder


def renew_reservations(
    meta: MetaStore, clock: Clock, reserved: set[str], owner: str, ttl_s: float
) -> None:
    """Renew the ``cache_serialize`` reservations a drive holds (called from its lease's
    thread at every beat), so a holder running for hours keeps them and a killed one's
    lapse within ``ttl_s``. The loop drops a key from ``reserved`` before releasing it:
    one released while it was renewed here is released again, never held on."""
    for key in list(reserved):  # a copy: the loop adds and releases meanwhile
        held = meta.reserve_cache(key, owner, clock.now(), ttl_s)
        if held == owner and key not in reserved:
            meta.release_cache(key, owner)
