"""The worker processes of the process executor: starting, tracking and stopping them.

:class:`Pool` holds every process an executor owns (idle, busy and dying workers) and is what
the executor's finalizer shuts down, so it must not refer back to the executor.

Invariants:

- A process leaves the pool only once it has exited; stopping one means SIGTERM (or closing its
  pipe, for an idle worker), then SIGKILL to its whole process group after a grace period.
- Stopping a worker mid-attempt (timeout, abort, close), or one whose attempt left processes
  running, stops its task's whole tree of descendants, found before the worker goes (once it
  exits they belong to init): a child that left the process group (``start_new_session``,
  ``setsid``) goes too. Each is signalled as the process it was (psutil checks its start
  time), never by pid alone, so a reused pid is never hit. A process the task detached
  before the attempt ended (a double fork, its parent gone) is out of reach.
- Workers are started with the driver's ``__main__`` hidden (:func:`main_module_hidden`) and
  from a forkserver that preloads :mod:`airfoil.executors._process_preload`, started (first
  preload, :mod:`airfoil.executors._process_env`) without the variables of
  :mod:`airfoil.core.worker_env` in its environment: a worker never holds the server's
  secrets key or database URL.
- When the last pool of this process shuts down, the forkserver is stopped too, if no other
  code has children of it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from airfoil.core.forks import forked_from
from airfoil.executors._proc_tree import descendants, signal_group, signal_tree
from airfoil.executors._process_worker import worker_main
from airfoil.executors.base import AttemptRequest, RuntimeFactory

__all__ = [
    "MAX_NICE",
    "Dying",
    "Pool",
    "Worker",
    "check_worker_nice",
    "descendants",
    "describe_exit",
    "memory_was_short",
    "signal_group",
    "signal_tree",
    "start_worker",
]

PRELOAD = ["airfoil.executors._process_preload"]
#: The forkserver's first preload: it restarts the forkserver without the platform's
#: credentials in its environment (:mod:`airfoil.executors._process_env`).
CLEAN_ENV = "airfoil.executors._process_env"
#: The largest ``nice`` increment: a worker's priority never goes below the lowest (19).
MAX_NICE = 19
KILL_GRACE_S = 0.5  # SIGTERM -> SIGKILL
RETIRE_GRACE_S = 2.0  # a retired worker closing its pipe -> SIGKILL


@dataclass(eq=False)
class Worker:
    """A live worker process, idle or running ``request``."""

    proc: BaseProcess
    conn: Connection
    pid: int
    request: AttemptRequest | None = None
    started: float = 0.0  # wall clock, for results
    queued_s: float = 0.0  # how long its attempt waited for a worker (AttemptResult.queued_s)
    deadline: float | None = None  # monotonic
    peak_rss: int = 0
    tasks: dict[tuple[str, str], str] = field(default_factory=dict)  # (module, qualname) -> ver
    probe: Any = None  # psutil.Process, made on the first memory sample
    reported: float = 0.0  # monotonic: when its latest result arrived
    inbox: bytearray = field(default_factory=bytearray)  # what arrived past a whole message


@dataclass(eq=False)
class Dying:
    """A worker being stopped: asked to (pipe closed or SIGTERM), SIGKILLed at ``kill_at``."""

    proc: BaseProcess
    pid: int
    kill_at: float  # monotonic; SIGKILL the process group then
    killed: bool = False
    #: the task's processes outside the worker's group too (psutil.Process each), found
    #: while the worker lived
    tree: list[Any] = field(default_factory=list)


class Pool:
    """Every process the executor owns; what the finalizer needs without the executor."""

    def __init__(self) -> None:
        self.owner = os.getpid()
        self.idle: list[Worker] = []
        self.busy: dict[int, Worker] = {}  # by pid
        self.dying: list[Dying] = []
        #: Counts workers started and retired: the live set changed when it moved.
        self.changes = 0

    def live(self) -> int:
        """How many workers are up (idle or busy), not counting the dying."""
        return len(self.idle) + len(self.busy)

    def retire(self, w: Worker, *, kill: bool, leftovers: bool = False) -> None:
        """Stop a worker: close its pipe (it exits on its own) or SIGTERM it, SIGKILL later.

        ``kill`` (mid-attempt) or ``leftovers`` (its finished attempt left processes
        running): the task's descendants are SIGTERMed with it, and SIGKILLed with its group.
        """
        self.changes += 1
        if kill:
            # frozen while its tree is read (milliseconds): its attempt gets no further,
            # and no child of its is handed to init by its death meanwhile
            signal_group(w.pid, signal.SIGSTOP)
        tree = descendants(w.pid) if kill or leftovers else []
        with contextlib.suppress(OSError):
            w.conn.close()
        now = time.monotonic()
        signal_tree(tree, signal.SIGTERM)
        if kill:
            signal_group(w.pid, signal.SIGTERM)
            signal_group(w.pid, signal.SIGCONT)  # the SIGTERMs are delivered now
            self.dying.append(Dying(w.proc, w.pid, now + KILL_GRACE_S, tree=tree))
        else:
            self.dying.append(Dying(w.proc, w.pid, now + RETIRE_GRACE_S, tree=tree))

    def reap(self, now: float) -> None:
        """Forget workers that exited; SIGKILL those past their grace period."""
        still: list[Dying] = []
        for d in self.dying:
            if d.proc.exitcode is not None:
                signal_group(d.pid, signal.SIGKILL)  # anything the task left behind
                signal_tree(d.tree, signal.SIGKILL)
                with contextlib.suppress(ValueError):
                    d.proc.close()
                continue
            if now >= d.kill_at and not d.killed:
                kill_worker(d)
            still.append(d)
        self.dying = still

    def next_kill(self) -> float | None:
        """When the next SIGKILL is due (monotonic), if any."""
        pending = [d.kill_at for d in self.dying if not d.killed]
        return min(pending) if pending else None

    def shutdown(self) -> None:
        """Stop every worker and wait for them (idempotent; a no-op in a forked child)."""
        if forked_from(self.owner):
            return
        for w in self.idle:
            self.retire(w, kill=False)
        for w in self.busy.values():
            self.retire(w, kill=True)
        self.idle.clear()
        self.busy.clear()
        end = time.monotonic() + KILL_GRACE_S
        while self.dying:
            now = time.monotonic()
            self.reap(now)
            if not self.dying:
                break
            if now >= end:
                for d in self.dying:
                    kill_worker(d)
                    d.kill_at = now
            wait([d.proc.sentinel for d in self.dying], timeout=0.05)
        open_pools.discard(self)
        if not open_pools:
            stop_idle_forkserver()


open_pools: set[Pool] = set()


def check_worker_nice(nice: object) -> None:
    """Refuse a worker ``nice`` increment outside 0-19 (a negative one would raise the
    workers' priority above the driver's, which needs privileges and defeats its purpose).

    Raises:
        ConfigError: ``nice`` is not an integer from 0 to 19.
    """
    if isinstance(nice, bool) or not isinstance(nice, int) or not 0 <= nice <= MAX_NICE:
        from airfoil.core.errors import ConfigError

        raise ConfigError(
            f"invalid worker nice {nice!r}: use an integer from 0 (the driver's CPU priority) "
            f"to {MAX_NICE} (the lowest); a worker may lower its priority, never raise it"
        )


def start_worker(
    ctx: Any,
    blob_url: str,
    pool: Pool,
    runtime: RuntimeFactory,
    durability: str = "process",
    *,
    nice: int = 0,
) -> Worker:
    """Start one worker process (and, on first use, the forkserver) for ``pool``; it builds
    its runtime with ``runtime`` (the forkserver preloads that function's module too) after
    lowering its CPU priority by ``nice``."""
    forkserver = ctx.get_start_method() == "forkserver"
    if forkserver:
        func = getattr(runtime, "func", runtime)  # a functools.partial's function
        ctx.set_forkserver_preload(forkserver_preload(str(func.__module__)))
    open_pools.add(pool)
    parent, child = ctx.Pipe(duplex=True)
    proc = ctx.Process(
        target=worker_main,
        args=(child, blob_url, forkserver, runtime, durability, nice),
        name="airfoil-worker",
        daemon=False,  # tasks may start their own processes (data loaders, pools)
    )
    with main_module_hidden():
        proc.start()
    child.close()
    assert proc.pid is not None
    return Worker(proc=proc, conn=parent, pid=proc.pid)


_hiding_lock = threading.Lock()
_hiding = 0  # how many starts are inside main_module_hidden now
_hidden_main: types.ModuleType | None = None  # the real __main__ while it is hidden


@contextlib.contextmanager
def main_module_hidden() -> Iterator[None]:
    """Start workers without re-running the driver's ``__main__`` in them.

    multiprocessing makes every spawn/forkserver child re-import the parent's main script as
    ``__mp_main__``: unguarded top-level code (``wf(x=1)`` at the end of a script) would run again
    in each worker, and a heavy script would slow every worker start. Workers import tasks by
    module name instead (a script's tasks are named after its file), so while a worker starts
    the main module is swapped for an empty one. (Another thread reading ``__main__`` during
    those few milliseconds would see the empty module.)

    Threads starting workers at once (a server's driver slots) share one swap: the first in
    hides the real module, the last out puts it back (each saving and restoring on its own
    could leave the empty module in place for good).
    """
    global _hidden_main, _hiding
    with _hiding_lock:
        if _hiding == 0:
            main = sys.modules.get("__main__")
            if main is None:
                _hidden_main = None
            else:
                _hidden_main = main
                sys.modules["__main__"] = types.ModuleType("__main__")
        _hiding += 1
    try:
        yield
    finally:
        with _hiding_lock:
            _hiding -= 1
            if _hiding == 0 and _hidden_main is not None:
                sys.modules["__main__"] = _hidden_main
                _hidden_main = None


def forkserver_preload(runtime_module: str) -> list[str]:
    """The runtime's module and our warm-up module added to whatever the forkserver was asked
    to preload already, after :data:`CLEAN_ENV`, always the first (before any other module
    is imported under the environment it removes)."""
    try:
        from multiprocessing import forkserver

        current = list(getattr(forkserver._forkserver, "_preload_modules", None) or [])
    except (ImportError, AttributeError):
        current = []
    current = [m for m in current if m != CLEAN_ENV]
    return [CLEAN_ENV, *current] + [m for m in (runtime_module, *PRELOAD) if m not in current]


def describe_exit(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        how = f"was killed by {name} (signal {-code})"
        if -code in _CRASHES:
            how += ": the task crashed the Python interpreter (native code: a C extension, ctypes)"
        return how
    return (
        f"exited with code {code}: the task ended the process (os._exit) instead of returning "
        "or raising"
    )


_CRASHES = frozenset(
    int(getattr(signal, name)) for name in ("SIGSEGV", "SIGBUS", "SIGABRT", "SIGFPE", "SIGILL")
)


def memory_was_short(rss: int) -> bool:
    """Whether a worker using ``rss`` bytes plausibly met the kernel's OOM killer."""
    if rss <= 0:
        return False
    import psutil

    return rss >= 0.5 * int(psutil.virtual_memory().total)


def kill_worker(d: Dying) -> None:
    """SIGKILL a worker past its grace period, with its group and its task's descendants
    (those it started since it was asked to stop too)."""
    if d.proc.exitcode is None:
        d.tree.extend(p for p in descendants(d.pid) if p not in d.tree)
    signal_tree(d.tree, signal.SIGKILL)
    signal_group(d.pid, signal.SIGKILL)
    d.killed = True


def stop_idle_forkserver() -> None:
    """Stop multiprocessing's forkserver if it has no children left (it restarts on demand)."""
    try:
        from multiprocessing import forkserver

        import psutil

        server: Any = getattr(forkserver, "_forkserver", None)
        pid = getattr(server, "_forkserver_pid", None)
        stop = getattr(server, "_stop", None)
        if pid is None or stop is None:
            return
        try:
            if psutil.Process(pid).children():
                return
        except psutil.Error:
            pass
        stop()
    except Exception:  # best effort: the forkserver also exits with this process
        return
