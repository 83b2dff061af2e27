"""The process executor: attempts run in a pool of long-lived local worker processes.

Workers are started lazily (one more only when every live worker is busy, up to
``max_workers``), reused across attempts and executions, and forked from a forkserver that has
already imported the runtime, so starting one costs tens of milliseconds and a warm attempt
costs one pipe round trip. The parent never blocks on a task: :meth:`ProcessExecutor.submit`
hands the request to an idle worker (or queues it), :meth:`ProcessExecutor.poll` waits on the
workers' pipes and process sentinels.

Invariants:

- Each submitted attempt is reported by :meth:`~ProcessExecutor.poll` exactly once: with the
  worker's result, or with a ``system`` error the parent writes itself -- ``TaskTimeoutError``
  (the parent stopped it past ``task.timeout_s`` from its hand-off, plus a margin that
  lets the worker's own interrupt, armed for the same deadline, report first with a
  traceback), ``WorkerLostError`` (the process died) or ``OutOfMemoryError`` (it died of
  memory). The one exception is :meth:`~ProcessExecutor.cancel`:
  a cancelled attempt is not reported at all (not even a result that had already arrived but
  was not yet polled), so a late report can never reach a later execution that reuses node ids.
- A worker runs one attempt at a time. A worker whose attempt was interrupted (timeout, death,
  cancel, out of memory, any ``system`` error or ``sys.exit()``) is never reused: it is stopped
  and a fresh one takes its place when needed.
- No orphans: :meth:`~ProcessExecutor.close` stops every worker (SIGTERM to its process group,
  so whatever the task started goes too; SIGKILL after a grace period) and waits for them, then
  stops the forkserver if nothing else uses it; the same runs when the executor is
  garbage-collected or the interpreter exits. If the driver is killed outright, each worker
  kills its process group as soon as its parent sentinel fires (a watch thread), and
  forkserver children also die with the forkserver, which exits with the driver
  (``PR_SET_PDEATHSIG``, Linux), even while their task holds the GIL.
- Workers never re-run the driver's ``__main__`` (``_process_pool.main_module_hidden``), and
  never run a task whose version changed since they imported it (a fresh worker runs it).
- Child calls (a running task calling a task) come up the worker's pipe and are handed to the
  engine by :meth:`~ProcessExecutor.take_child_calls`; :meth:`~ProcessExecutor.answer_child`
  sends the outcome back. A worker waiting on a child does not count against ``max_workers``
  (one more worker may start in its place), so nested calls can never deadlock the pool.
- The executor is driven from one thread (the engine's loop); it is not thread-safe. Results
  of every execution come back through the same :meth:`~ProcessExecutor.poll`. (A server's
  driver slots share one through :mod:`airfoil.executors._process_shared`, which holds a
  lock around every call and lets go of it only inside :attr:`ProcessExecutor.wait`.)
"""

from __future__ import annotations

import atexit
import math
import multiprocessing
import multiprocessing.util  # registers its exit hook before ours (see _start_worker)
import os
import select
import signal
import socket
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from airfoil.core.errors import ConfigError
from airfoil.core.phases import ErrorKind
from airfoil.core.records import ErrorInfo
from airfoil.core.resources import ResourceSpec
from airfoil.executors._process_pool import (
    Pool,
    Worker,
    check_worker_nice,
    describe_exit,
    memory_was_short,
    start_worker,
)
from airfoil.executors._process_worker import READ_SIZE, WorkerMessage, send_frame, take_frames
from airfoil.executors._reports import UnreportedAttempts
from airfoil.executors.base import (
    AttemptRequest,
    AttemptResult,
    ChildCall,
    ChildOutcome,
    Executor,
    RuntimeFactory,
    machine_capacity,
    with_deadline,
)

__all__ = ["ProcessExecutor", "check_worker_nice"]

_TIMEOUT_MARGIN_S = 0.5  # lets the worker's own SIGALRM report first (with a traceback)
_SAMPLE_EVERY_S = 0.5  # memory samples of busy workers, to tell OOM kills from other deaths
_OOM_NEAR = 0.8  # a SIGKILLed worker whose RSS was this close to its limit died of memory
#: An idle worker whose result arrived within this long is handed its next attempt without a
#: liveness check (see ``_idle_worker``).
_FRESH_S = 0.1


def _ready(waitables: dict[int, Any], timeout: float) -> list[Any]:
    """The objects of ``waitables`` (by file descriptor) that are readable, closed or in
    error, waiting up to ``timeout`` seconds: what ``multiprocessing.connection.wait``
    answers, without building a selector and a key per object at every poll (~10% of a
    server driver slot's CPU in the throughput profile)."""
    poller = select.poll()
    for fd in waitables:
        poller.register(fd, select.POLLIN)
    return [waitables[fd] for fd, _ in poller.poll(math.ceil(timeout * 1000))]


def _messages(w: Worker) -> list[bytes] | None:
    """The whole messages ``w`` has sent (its socket is readable), in order; None if it
    closed. What ``Connection.recv_bytes`` reads in two system calls (the frame's size, then
    its bytes), this reads in one where the message fits (a result, a child call: one
    ``read`` instead of two per attempt, and in a server's engine process one hand-off of the
    GIL fewer). Like ``recv_bytes``, it waits for the rest of a message that has begun to
    arrive; bytes past the whole messages (the start of the next) wait in ``w.inbox``."""
    fd = w.conn.fileno()
    buf = w.inbox
    while True:
        try:
            chunk = os.read(fd, READ_SIZE)
        except OSError:
            return None
        if not chunk:
            return None
        if not buf and len(chunk) >= 4 and int.from_bytes(chunk[:4], "big") == len(chunk) - 4:
            return [chunk[4:]]  # the common case: exactly one message
        buf += chunk
        out = take_frames(buf)
        if out is None:
            return None  # not a frame of this module's worker: never hang on it
        if out:
            return out  # a partial rest: its bytes come with a later poll
        # else: the rest of a message that began to arrive


def _exited(w: Worker) -> bool:
    """Whether ``w``'s process has ended: its sentinel is readable (what ``exitcode`` asks a
    forkserver child through ``multiprocessing.connection.wait``, which builds a selector per
    call: ~5% of a server driver slot's CPU when asked before every dispatch)."""
    return bool(_ready({w.proc.sentinel: None}, 0))


#: A wait for a worker shorter than this is not reported (``AttemptResult.queued_s``): a
#: hand-off in the same turn as the submit.
_QUEUED_MIN_S = 0.001


class ProcessExecutor(Executor):
    """Runs attempts in a pool of long-lived local worker processes.

    Args:
        blob_url: the blob store attempts read inputs from and write outputs to (used when a
            request names none, and for the parent's notes in attempt logs).
        max_workers: how many attempts may run at once (default: the number of CPUs).
        runtime: builds, in each worker process, the runtime that runs attempts: a
            module-level function (pickled by reference), e.g.
            ``airfoil.runtime.worker.worker_runtime``.
        capacity: the resources attempts may use at once (default: this machine's).
        start_method: ``"forkserver"`` (default where available: a worker starts in ~30 ms
            from a server that has already imported the runtime) or ``"spawn"`` (a fresh
            interpreter per worker, ~250 ms). Plain ``fork`` is refused: a worker must not
            inherit the driver's threads, locks or database connections.
        durability: the blob store's durability in the workers (``process`` or ``power``:
            outputs fsynced before they are reported).
        worker_nice: how much lower each worker's CPU priority is than this process's (its
            ``nice`` increment, 0-19): on a busy machine the process driving the workers
            (and, on a server, the API) gets a core before the tasks do, so user code cannot
            starve the loop that feeds it. Lowering a priority needs no privilege.
    """

    name = "process"

    def __init__(
        self,
        blob_url: str,
        max_workers: int | None = None,
        *,
        runtime: RuntimeFactory,
        capacity: ResourceSpec | None = None,
        start_method: str | None = None,
        durability: str = "process",
        worker_nice: int = 0,
    ) -> None:
        methods = multiprocessing.get_all_start_methods()
        method = start_method or ("forkserver" if "forkserver" in methods else "spawn")
        if method not in ("forkserver", "spawn") or method not in methods:
            raise ConfigError(
                f"invalid start method {method!r} for the process executor: use 'forkserver' "
                f"or 'spawn' (available here: {', '.join(methods)})"
            )
        if max_workers is not None and max_workers < 1:
            raise ConfigError(f"max_workers must be at least 1, got {max_workers}")
        check_worker_nice(worker_nice)
        self.blob_url = blob_url
        self.runtime = runtime
        self.durability = durability
        self.worker_nice = worker_nice
        self.start_method = method
        self._max_workers = max_workers or os.cpu_count() or 1
        self._capacity = capacity
        self._ctx: Any = multiprocessing.get_context(method)
        self._pool = Pool()
        self._queue: deque[AttemptRequest] = deque()
        #: (execution_id, node_id) -> when (monotonic) a queued attempt was submitted
        self._since: dict[tuple[str, str], float] = {}
        self._done: list[AttemptResult] = []
        self._encoder = msgspec.msgpack.Encoder()
        self._frame = bytearray()  # each request's frame (send_frame), reused
        self._decoder = msgspec.msgpack.Decoder(WorkerMessage)
        self._calls: list[ChildCall] = []
        self._waiting: dict[int, int] = {}  # pid -> child calls its attempt waits on
        self._next_sample = 0.0
        self._unreported = UnreportedAttempts(blob_url)
        self._closed = False
        self._finalizer: weakref.finalize[Any, Any] | None = None
        #: How :meth:`poll` waits up to a timeout (seconds) for the busy workers' pipes and
        #: sentinels, answering the ready ones: :meth:`_wait_busy`, or a shared pool's wait,
        #: which watches every live worker's (registered once, not built at each wait) and
        #: lets other threads in while it blocks (:mod:`airfoil.executors._process_shared`).
        self.wait: Callable[[float], list[Any]] = self._wait_busy

    # --- the Executor seam -----------------------------------------------------------------

    def submit(self, request: AttemptRequest, since: float | None = None) -> None:
        """Hand an attempt to an idle worker, starting one if all are busy (or queue it).
        ``since``: when (monotonic) it was submitted to a queue in front of this one (a
        shared pool's): its wait, from then to the hand-off, comes back as its result's
        ``queued_s``, as does a wait in this executor's own queue."""
        if self._closed:
            raise RuntimeError("this process executor is closed")
        self._queue.append(request)
        if since is not None:
            self._since[(request.execution_id, request.node_id)] = since
        self._dispatch()
        if since is None and self._queue and self._queue[-1] is request:
            self._since[(request.execution_id, request.node_id)] = time.monotonic()

    def poll(self, timeout: float | None) -> list[AttemptResult]:
        """Finished attempts, waiting up to ``timeout`` seconds (None: until one finishes).

        Also where timeouts are enforced and dead workers noticed, so the driver polls
        whenever it has nothing else to do (as the engine's loop does).
        """
        end = None if timeout is None else time.monotonic() + max(0.0, timeout)
        pool = self._pool
        while True:
            now = time.monotonic()
            if pool.dying:
                pool.reap(now)
            self._enforce_deadlines(now)
            if self._done or self._calls or (not pool.busy and not self._queue):
                done, self._done = self._done, []
                return done
            if now >= self._next_sample:
                self._sample_memory()
                self._next_sample = now + _SAMPLE_EVERY_S
            wake = min(
                t
                for t in (
                    end,
                    self._next_deadline(),
                    pool.next_kill() if pool.dying else None,
                    self._next_sample,
                )
                if t is not None
            )
            # Always look at the pipes at least once, so poll(0) returns what has arrived.
            ready = self.wait(max(0.0, wake - now))
            if ready:
                self._collect(ready)
            elif end is not None and time.monotonic() >= end:
                return []

    def cancel(self, execution_id: str, node_id: str) -> None:
        """Stop the node's attempt: drop it if queued, kill its worker if running.

        Nothing is reported for a cancelled attempt afterwards (the engine has already settled
        it as aborted), including a result that arrived but was not polled yet.
        """
        self._queue = deque(
            r for r in self._queue if (r.execution_id, r.node_id) != (execution_id, node_id)
        )
        self._since.pop((execution_id, node_id), None)
        self._done = [
            r for r in self._done if (r.execution_id, r.node_id) != (execution_id, node_id)
        ]
        self._calls = [
            c for c in self._calls if (c.execution_id, c.parent) != (execution_id, node_id)
        ]
        for pid, w in list(self._pool.busy.items()):
            assert w.request is not None
            if (w.request.execution_id, w.request.node_id) == (execution_id, node_id):
                del self._pool.busy[pid]
                self._pool.retire(w, kill=True)
        self._dispatch()

    def take_child_calls(self) -> list[ChildCall]:
        """Child calls that running attempts made since the last call."""
        calls, self._calls = self._calls, []
        return calls

    def answer_child(self, call: ChildCall, outcome: ChildOutcome) -> None:
        """Send ``outcome`` to the worker whose attempt made ``call``, if it still runs it."""
        for w in self._pool.busy.values():
            if not call.made_by(w.request):
                continue
            try:
                w.conn.send_bytes(self._encoder.encode(outcome))
            except OSError:
                return  # the worker died: poll reports it
            left = self._waiting.get(w.pid, 0) - 1
            if left > 0:
                self._waiting[w.pid] = left
            else:
                self._waiting.pop(w.pid, None)
            return

    def warm(self) -> None:
        """Start idle workers up to ``max_workers`` (and the forkserver, on first use), so
        that the first attempts find them running: a server's start calls it, before it
        says it is ready (what the first attempts would pay otherwise: the forkserver's
        imports and each worker's start, ~0.45 s of CPU for 8 workers)."""
        if self._closed:
            raise RuntimeError("this process executor is closed")
        pool = self._pool
        while pool.live() < self._max_workers:
            pool.idle.insert(0, self._start_worker())

    def capacity(self) -> ResourceSpec:
        """The resources given at construction, else this machine's."""
        return self._capacity if self._capacity is not None else machine_capacity()

    def max_parallel(self) -> int:
        """``max_workers``: how many attempts run at once."""
        return self._max_workers

    def running(self) -> int:
        """Attempts running in a worker now (not counting ones queued for a worker)."""
        return len(self._pool.busy)

    def running_attempts(self) -> list[tuple[str, str]]:
        """The ``(execution_id, node_id)`` of each attempt running in a worker now."""
        return [
            (w.request.execution_id, w.request.node_id)
            for w in self._pool.busy.values()
            if w.request is not None
        ]

    def queued(self) -> int:
        """Attempts waiting for a worker (every worker it may start is busy)."""
        return len(self._queue)

    def close(self) -> None:
        """Stop every worker and wait for them to exit; later submits raise."""
        self._closed = True
        self._queue.clear()
        self._since.clear()
        self._done.clear()
        if self._finalizer is not None:
            self._finalizer()  # runs Pool.shutdown once
            atexit.unregister(self._finalizer)

    def worker_pids(self) -> list[int]:
        """The process ids of the live workers (for diagnostics and tests)."""
        pool = self._pool
        return [w.pid for w in pool.idle] + [w.pid for w in pool.busy.values()]

    # --- workers -----------------------------------------------------------------------------

    def _start_worker(self) -> Worker:
        self._pool.changes += 1
        if self._finalizer is None:
            self._finalizer = weakref.finalize(self, self._pool.shutdown)
            # Registered after multiprocessing's own exit hook, so it runs first (LIFO) and the
            # workers are gone before multiprocessing joins its children.
            atexit.register(self._finalizer)
        return start_worker(
            self._ctx,
            self.blob_url,
            self._pool,
            self.runtime,
            self.durability,
            nice=self.worker_nice,
        )

    def _dispatch(self) -> None:
        pool = self._pool
        for pid in [p for p in self._waiting if p not in pool.busy]:
            del self._waiting[pid]  # its attempt ended (or the worker died)
        while self._queue:
            request = self._queue[0]
            picked = time.monotonic() if self._since else 0.0  # before any worker's start
            w = self._idle_worker(request)
            if w is None:
                # Workers waiting on their children do not count: one more starts in place
                # of each, so a chain of nested calls always finds a worker.
                if pool.live() - len(self._waiting) >= self._max_workers:
                    return
                w = self._start_worker()
            timeout = request.task.timeout_s
            sent = with_deadline(request, timeout) if timeout else request
            try:
                send_frame(w.conn.fileno(), self._encoder, sent, self._frame)
            except OSError:  # died while idle: forget it, try the next one
                pool.retire(w, kill=True)
                continue
            self._queue.popleft()
            w.request, w.started, w.peak_rss = request, time.time(), 0
            since = (
                self._since.pop((request.execution_id, request.node_id), None) if picked else None
            )
            w.queued_s = (
                picked - since if since is not None and picked - since >= _QUEUED_MIN_S else 0.0
            )
            # The worker's interrupt fires at the request's deadline (same instant, its
            # clock); the hard stop comes the margin later, so the interrupt reports first.
            w.deadline = time.monotonic() + timeout + _TIMEOUT_MARGIN_S if timeout else None
            w.tasks[(request.task.module, request.task.qualname)] = request.task.version
            pool.busy[w.pid] = w

    def _idle_worker(self, request: AttemptRequest) -> Worker | None:
        """The most recently used idle worker that can run ``request``, or None.

        A worker that reported a result in the last ``_FRESH_S`` is not asked whether it
        still lives (a ``poll`` of its sentinel: one system call per attempt, and in a
        server's engine process one hand-off of the GIL between its driver slots): had it
        died since, its end of the socket closed with it and handing it the attempt fails at
        once (``EPIPE``), which ``_dispatch`` takes as a death while idle, as before. Only a
        death in that window *and* a process it started still holding its socket open would
        let the attempt go to it, to be reported lost (a system error, retried) like a death
        during the attempt."""
        pool = self._pool
        task = (request.task.module, request.task.qualname)
        stale = time.monotonic() - _FRESH_S
        while pool.idle:
            w = pool.idle.pop()
            if w.reported < stale and _exited(w):
                pool.retire(w, kill=False)
                continue
            version = w.tasks.get(task)
            if version is not None and version != request.task.version:
                # The task's code changed since this worker imported it: never run stale code.
                pool.retire(w, kill=False)
                continue
            return w
        return None

    def _wait_busy(self, timeout: float) -> list[Any]:
        return _ready(self._waitables(), timeout)

    def _waitables(self) -> dict[int, Any]:
        """The busy workers' pipes and sentinels by file descriptor."""
        out: dict[int, Any] = {}
        for w in self._pool.busy.values():
            out[w.conn.fileno()] = w.conn
            sentinel = w.proc.sentinel
            out[sentinel] = sentinel
        return out

    def live_waitables(self) -> dict[int, Any]:
        """Every live worker's pipe and sentinel by file descriptor, the idle ones' too (a
        shared pool's wait watches them all, so an attempt handed to an idle worker while it
        waits needs no new wait)."""
        out = self._waitables()
        for w in self._pool.idle:
            out[w.conn.fileno()] = w.conn
            out[w.proc.sentinel] = w.proc.sentinel
        return out

    def workers_changed(self) -> int:
        """A count that moves whenever a worker starts or is retired (so the live workers'
        pipes and sentinels, :meth:`live_waitables`, are as they were while it holds)."""
        return self._pool.changes

    def drop_idle(self, ready: Iterable[Any]) -> None:
        """Retire the idle workers whose pipe or sentinel is in ``ready``: an idle worker
        sends nothing, so it died (or closed its end) while idle."""
        ready_set = set(ready)
        pool = self._pool
        for w in [w for w in pool.idle if w.conn in ready_set or w.proc.sentinel in ready_set]:
            pool.idle.remove(w)
            pool.retire(w, kill=True)

    def _collect(self, ready: Iterable[Any]) -> None:
        pool = self._pool
        ready_set = set(ready)
        for w in list(pool.busy.values()):
            if w.conn in ready_set:
                self._receive(w)
            elif w.proc.sentinel in ready_set:
                self._lost(w)
        self._dispatch()

    def _receive(self, w: Worker) -> None:
        """Take what a busy worker sent: its child calls, then its result; a closed pipe or
        a message that is not one of these is the worker's death."""
        for data in _messages(w) or (b"",):
            try:
                message = self._decoder.decode(data) if data else None
            except msgspec.MsgspecError:
                message = None  # cannot happen with this module's worker; never hang on it
            if message is not None and message.call is not None:
                self._calls.append(message.call)
                self._waiting[w.pid] = self._waiting.get(w.pid, 0) + 1
                continue
            if message is not None and message.result is not None:
                self._finish(w, message.result, leftovers=message.left_processes)
            else:
                self._lost(w)
            return  # a result is an attempt's last message

    def _finish(self, w: Worker, result: AttemptResult, *, leftovers: bool = False) -> None:
        pool = self._pool
        del pool.busy[w.pid]
        if w.queued_s:
            result = msgspec.structs.replace(result, queued_s=w.queued_s)
        self._done.append(result)
        w.request = w.deadline = None
        w.reported = time.monotonic()
        err = result.error
        if leftovers:  # what the attempt started must not live on in a reused worker
            pool.retire(w, kill=False, leftovers=True)
        elif err is not None and (err.kind != ErrorKind.USER or err.type == "SystemExit"):
            pool.retire(w, kill=False)
        else:
            pool.idle.append(w)

    def _lost(self, w: Worker) -> None:
        """The worker died mid-attempt: report why, as best we can tell."""
        pool = self._pool
        del pool.busy[w.pid]
        w.proc.join(timeout=1.0)
        code = w.proc.exitcode
        request = w.request
        assert request is not None
        limit = request.task.limits.mem
        how = describe_exit(code)
        if code == -signal.SIGKILL and (
            (limit > 0 and w.peak_rss >= _OOM_NEAR * limit) or memory_was_short(w.peak_rss)
        ):
            mib = f"{w.peak_rss / 2**20:.0f}Mi"
            what = f"its limit of {limit / 2**20:.0f}Mi" if limit > 0 else "the machine's memory"
            error = ErrorInfo(
                kind=ErrorKind.SYSTEM,
                type="OutOfMemoryError",
                message=f"the worker process (pid {w.pid}) running the attempt was {how}, most "
                f"likely by the out-of-memory killer: it used {mib}, near {what}",
            )
        else:
            error = ErrorInfo(
                kind=ErrorKind.SYSTEM,
                type="WorkerLostError",
                message=f"the worker process (pid {w.pid}) running the attempt {how}",
            )
        self._report(w, error)
        pool.retire(w, kill=True)

    def _enforce_deadlines(self, now: float) -> None:
        for w in list(self._pool.busy.values()):
            if w.deadline is None or now < w.deadline:
                continue
            request = w.request
            assert request is not None
            del self._pool.busy[w.pid]
            self._pool.retire(w, kill=True)
            self._report(
                w,
                ErrorInfo(
                    kind=ErrorKind.SYSTEM,
                    type="TaskTimeoutError",
                    message=f"the attempt ran past its timeout of {request.task.timeout_s:g}s "
                    f"and was stopped (worker process {w.pid} killed)",
                ),
            )
        if self._queue:
            self._dispatch()

    def _next_deadline(self) -> float | None:
        deadlines = [w.deadline for w in self._pool.busy.values() if w.deadline is not None]
        return min(deadlines) if deadlines else None

    def _sample_memory(self) -> None:
        if not self._pool.busy:
            return
        import psutil

        for w in self._pool.busy.values():
            try:
                if w.probe is None:
                    w.probe = psutil.Process(w.pid)
                rss = int(w.probe.memory_info().rss)
            except psutil.Error:
                continue
            w.peak_rss = max(w.peak_rss, rss)

    def _report(self, w: Worker, error: ErrorInfo) -> None:
        """Report an attempt the worker could not report itself, noting why in its log."""
        request = w.request
        assert request is not None
        result = self._unreported.result(
            request, error, started=w.started, worker=f"{socket.gethostname()}:{w.pid}:worker"
        )
        if w.queued_s:
            result = msgspec.structs.replace(result, queued_s=w.queued_s)
        self._done.append(result)
