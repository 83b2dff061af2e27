"""One pool of worker processes shared by the driver slots of a server process.

A server's driver slots each drive one execution with an engine of their own. With one
:class:`~airfoil.executors.process.ProcessExecutor` per slot, the slots bound how many
executions run at once (a long task holds its slot) and every slot brings its own workers,
each waking for an attempt only every few milliseconds (a worker's cost is its wake-up, not
its code: docs/dev/performance-log.md). :class:`SharedProcessPool` keeps one executor for all of
them; each slot drives a :class:`PoolClient`, an :class:`~airfoil.executors.base.Executor`
that sees only the attempts it submitted.

How it works: one lock guards the shared executor. A dispatcher thread polls it (holding the
lock, which its wait lets go of while it blocks on the workers' pipes), and hands each result
and child call to the client that submitted the attempt, waking that client's thread. A
client's ``submit``, ``cancel`` and ``answer_child`` take the lock and act on the executor
directly (an idle worker gets an attempt at once, from the submitting thread), then wake the
dispatcher through a pipe if its wait watches a stale set of workers.

Invariants (beside the process executor's own, which hold per client):

- Each attempt a client submitted is reported exactly once, by that client's ``poll``, and
  by no other client's. A cancelled attempt is reported by none (its result dropped even if
  it had arrived), and a client's ``close`` cancels every attempt it still has: a slot reset,
  a lost execution or a terminate touches no other slot's attempts.
- Fairness: attempts wait in their client's queue, and the executor is fed one attempt at a
  time, round-robin over the clients with waiting attempts, only while it has a worker for
  it (at most one attempt waits inside the executor). An execution with 1,000 ready tasks
  takes its turn like one with one.
- Depth: a client has out (submitted, not reported) what :meth:`PoolClient.max_out` says,
  asked by its engine at each admission: its share of the workers among the clients with
  attempts out (at least one), or more where the others leave workers unused, and deeper
  while the pool's attempts are short, so that an attempt waits in the queues for about
  :data:`QUEUE_WAIT_BOUND_S` at most: the pool's workers plus what it finishes in that
  long, shared among those clients, never over :data:`DEEPEST_PER_WORKER` per worker a
  client. A deep queue lets a slot's turn commit the ends of many attempts at once (one
  fenced statement: docs/performance.md, "Fewer statements a task"); with long tasks it
  would only show attempts as running that wait for a worker.
- Waits: an attempt's time in the queues (its client's and the executor's) comes back as
  its result's ``queued_s``, measured from its ``submit`` on this host's monotonic clock.
- Key: an attempt is known by ``(execution_id, node_id)`` as in the executor; two clients
  never drive one execution at once (a server's lease), and a client's ``close`` forgets
  its attempts before its execution can be claimed again.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import select
import threading
import time
from collections import deque
from typing import Any

from airfoil.core.resources import ResourceSpec
from airfoil.executors.base import (
    AttemptRequest,
    AttemptResult,
    ChildCall,
    ChildOutcome,
    Executor,
)
from airfoil.executors.process import ProcessExecutor, _ready

__all__ = ["DEEPEST_PER_WORKER", "QUEUE_WAIT_BOUND_S", "PoolClient", "SharedProcessPool", "depth"]

log = logging.getLogger("airfoil.executors")

_Key = tuple[str, str]

#: The dispatcher's longest wait (it is woken when the pool closes).
_DISPATCH_WAIT_S = 1.0

#: About the longest an attempt should wait in the queues for a worker (see the module
#: docstring, "Depth"): the clients together have out the workers plus what the pool
#: finishes in this long.
QUEUE_WAIT_BOUND_S = 0.05

#: The most attempts a client has out per worker of the pool, however short its attempts:
#: at 4 slots on 4 workers (PostgreSQL, trivial tasks) the server's commits a task were
#: ~0.43 with 4 out a slot, ~0.27 with 16 and ~0.22 with 32 (docs/performance.md, "Fewer
#: statements a task"): more bought little.
DEEPEST_PER_WORKER = 4

#: The time constant of the pool's rate of finished attempts (an exponentially weighted
#: count a second): a change of the tasks' length shows within about this long.
_RATE_TAU_S = 0.25


class _Closed(Exception):
    """Raised out of the executor's wait once the pool is closed: the dispatcher ends."""


class PoolClient(Executor):
    """One driver slot's view of a :class:`SharedProcessPool` (see the module docstring)."""

    def __init__(self, pool: SharedProcessPool) -> None:
        self.pool = pool
        self.name = pool.inner.name
        #: Set (without the lock) once results or calls were added for this client.
        self.news = threading.Event()
        #: Submitted, not yet handed to the executor (round-robin with the other clients),
        #: each with when (monotonic).
        self.waiting: deque[tuple[AttemptRequest, float]] = deque()
        #: Attempts of this client that the executor has (running or queued in it).
        self.held: set[_Key] = set()
        self.results: list[AttemptResult] = []
        self.calls: list[ChildCall] = []
        self.closed = False
        #: What the last :meth:`max_out` left room for, not yet submitted: counted as this
        #: client's for the others' answers meanwhile (its engine commits the admission
        #: before it submits), so two slots admitting at once do not both take the workers.
        #: Cleared by its poll (its engine submits what it admitted before it polls).
        self.pending = 0

    def submit(self, request: AttemptRequest) -> None:
        pool = self.pool
        with pool.mu:
            if self.closed or pool.closed:
                raise RuntimeError("this worker pool client is closed")
            self.waiting.append((request, time.monotonic()))
            if self.pending:
                self.pending -= 1
            pool.feed()

    def poll(self, timeout: float | None) -> list[AttemptResult]:
        """This client's finished attempts, waiting up to ``timeout`` seconds for one (or a
        child call) if none is back yet; at once if it has no attempt out."""
        pool = self.pool
        self.pending = 0
        end = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            with pool.mu:
                if self.results or self.calls:
                    out, self.results = self.results, []
                    return out
                if (not self.held and not self.waiting) or pool.closed:
                    return []
                self.news.clear()  # under the lock: news that comes after sets it again
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                return []
            self.news.wait(left)

    def cancel(self, execution_id: str, node_id: str) -> None:
        key = (execution_id, node_id)
        pool = self.pool
        with pool.mu:
            self._forget(key)
            if key in self.held:
                self.held.discard(key)
                pool.cancel(key)

    def _forget(self, key: _Key) -> None:
        """Drop what this client holds of ``key`` outside the executor (the lock held)."""
        self.waiting = deque(w for w in self.waiting if (w[0].execution_id, w[0].node_id) != key)
        self.results = [r for r in self.results if (r.execution_id, r.node_id) != key]
        self.calls = [c for c in self.calls if (c.execution_id, c.parent) != key]

    def take_child_calls(self) -> list[ChildCall]:
        with self.pool.mu:
            calls, self.calls = self.calls, []
            return calls

    def answer_child(self, call: ChildCall, outcome: ChildOutcome) -> None:
        with self.pool.mu:
            if (call.execution_id, call.parent) in self.held:
                self.pool.inner.answer_child(call, outcome)

    def warm(self) -> None:
        self.pool.warm()

    def capacity(self) -> ResourceSpec:
        return self.pool.inner.capacity()

    def max_parallel(self) -> int:
        return self.pool.inner.max_parallel()

    def max_out(self) -> int:
        """How many attempts this client may have out now (see the module docstring,
        "Depth"). Read without the lock: a count a moment stale only moves one admission's
        bound by an attempt."""
        pool = self.pool
        others = active = 0
        for c in pool.clients:
            if c is not self and (c.held or c.waiting or c.pending):
                others += len(c.held) + len(c.waiting) + c.pending
                active += 1
        n = depth(pool.inner.max_parallel(), pool.rate(), active + 1, others)
        self.pending = max(0, n - len(self.held) - len(self.waiting))
        return n

    def running(self) -> int:
        """This client's attempts running in a worker now (not those waiting for one)."""
        with self.pool.mu:
            return sum(1 for key in self.pool.inner.running_attempts() if key in self.held)

    def worker_pids(self) -> list[int]:
        """The process ids of the pool's live workers (all clients', for diagnostics)."""
        return self.pool.worker_pids()

    def close(self) -> None:
        """Cancel every attempt this client has (killing their workers, as a slot's own
        executor's close did) and leave the pool; the pool's workers stay for the others."""
        self.pool.leave(self)


def depth(workers: int, rate: float, clients: int, others_out: int) -> int:
    """How many attempts a client of a pool of ``workers`` may have out, where the pool
    finishes ``rate`` attempts a second and ``clients`` clients (this one among them) have
    attempts out, the others ``others_out`` of them (module docstring, "Depth").

    The clients together may have out the workers plus what the pool finishes in
    :data:`QUEUE_WAIT_BOUND_S` (an attempt behind them all then waits about that long);
    a client its even share of that, or what the others leave of it if more, at least one,
    at most :data:`DEEPEST_PER_WORKER` per worker. Long tasks: the workers' share (1 s
    tasks, 4 workers, 2 clients: 2 each); trivial ones, ~2,000 a second: the deepest."""
    total = workers + int(QUEUE_WAIT_BOUND_S * rate)
    share = -(-total // max(1, clients))
    return max(1, min(max(share, total - others_out), DEEPEST_PER_WORKER * workers))


class SharedProcessPool:
    """A :class:`ProcessExecutor` driven by many threads through :class:`PoolClient` views.

    Args:
        inner: the executor (not used by anything else); :meth:`close` closes it.
    """

    def __init__(self, inner: ProcessExecutor) -> None:
        self.inner = inner
        self.mu = threading.Lock()
        self.closed = False
        self.clients: list[PoolClient] = []
        self._owner: dict[_Key, PoolClient] = {}
        self._next = 0  # where the round-robin over the clients starts next
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._blocked = False  # the dispatcher waits without the lock
        self._stale = False  # ... and what it watches changed since it began
        #: ... on the workers live at this count of their changes (-1: none; see _changed)
        self._watched = -1
        #: The live workers' pipes and sentinels and the wake pipe, registered once per
        #: change of the live workers (not at every wait), by file descriptor.
        self._poller = select.poll()
        self._polled: dict[int, Any] = {}
        self._polled_at = -1
        #: Clients with news, woken once the dispatcher lets go of the lock (woken before,
        #: each would wait for the lock the dispatcher still holds: two more switches).
        self._to_wake: set[PoolClient] = set()
        self._woken = False  # a byte is in the wake pipe
        self._warm_lock = threading.Lock()
        self._warmed = False
        #: Finished attempts a second (exponentially weighted, ``_RATE_TAU_S``) as of
        #: ``_rate_at`` (monotonic): see :meth:`rate`.
        self._rate = 0.0
        self._rate_at = time.monotonic()
        inner.wait = self._wait
        self._thread = threading.Thread(
            target=self._dispatch, name="airfoil-worker-pool", daemon=True
        )
        self._thread.start()

    def client(self) -> PoolClient:
        """A new view of the pool for one driver slot (closed by its ``close``)."""
        c = PoolClient(self)
        with self.mu:
            if self.closed:
                raise RuntimeError("this worker pool is closed")
            self.clients.append(c)
        return c

    def warm(self) -> None:
        """Start the executor's workers (once, whichever client asks first)."""
        with self._warm_lock:
            if self._warmed:
                return
            with self.mu:
                self.inner.warm()
            self._warmed = True

    def worker_pids(self) -> list[int]:
        with self.mu:
            return self.inner.worker_pids()

    def rate(self) -> float:
        """How many attempts the pool finishes a second, lately (decayed to now)."""
        return self._rate * math.exp((self._rate_at - time.monotonic()) / _RATE_TAU_S)

    def close(self) -> None:
        """Stop the dispatcher and every worker."""
        with self.mu:
            if self.closed:
                return
            self.closed = True
            for c in self.clients:
                c.closed = True
                c.news.set()
            self._wake()
        self._thread.join(5.0)
        with self.mu:
            self.inner.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    # --- under the lock ----------------------------------------------------------------

    def leave(self, c: PoolClient) -> None:
        with self.mu:
            c.closed = True
            for key in list(c.held):
                self.cancel(key)
            c.held.clear()
            c.waiting.clear()
            c.results.clear()
            c.calls.clear()
            if c in self.clients:
                self.clients.remove(c)
            c.news.set()

    def cancel(self, key: _Key) -> None:
        """Cancel ``key`` in the executor (its worker is killed) and forget its owner."""
        self._owner.pop(key, None)
        self.inner.cancel(*key)
        self._changed(force=True)  # a kill to follow up (its SIGKILL's time)
        self.feed()

    def feed(self) -> None:
        """Hand waiting attempts to the executor, one client at a time, while it has a
        worker for them (at most one attempt waits inside it)."""
        inner = self.inner
        clients = self.clients
        timed = False
        while not inner.queued():
            n = len(clients)
            for i in range(n):
                c = clients[(self._next + i) % n]
                if c.waiting:
                    break
            else:
                break
            self._next = (self._next + i + 1) % n
            request, since = c.waiting.popleft()
            key = (request.execution_id, request.node_id)
            self._owner[key] = c
            c.held.add(key)
            inner.submit(request, since=since)
            timed = timed or bool(request.task.timeout_s)
        self._changed(force=timed)

    def _changed(self, *, force: bool = False) -> None:
        """A dispatcher blocked on workers that are not all the live ones (one started or
        retired), or on a deadline that is not the next one any more (``force``), looks
        again. An attempt handed to an idle worker it watches needs no wake-up: the
        dispatcher's wait sees its result come as it is."""
        if self._blocked and (force or self.inner.workers_changed() != self._watched):
            self._stale = True
            self._wake()

    def _wake(self) -> None:
        if not self._woken:
            self._woken = True
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")

    def _drain(self) -> None:
        with contextlib.suppress(OSError):
            os.read(self._wake_r, 4096)
        self._woken = False

    def _wait(self, timeout: float) -> list[Any]:
        """The executor's wait (called by its ``poll``, the lock held): block without the
        lock on every live worker (idle ones too, see ``_changed``) and the wake pipe. If
        the workers changed meanwhile, what was watched is stale (a descriptor may even have
        been closed and reused): answer nothing, and the executor's ``poll`` looks again at
        the workers it has now. An idle worker's pipe or sentinel that is ready means it
        died idle: it is retired."""
        inner = self.inner
        changes = inner.workers_changed()
        if changes != self._polled_at:
            self._poller = select.poll()
            self._polled = inner.live_waitables()
            self._polled[self._wake_r] = self._wake_r
            for fd in self._polled:
                self._poller.register(fd, select.POLLIN)
            self._polled_at = changes
        self._watched = changes
        self._blocked, self._stale = True, False
        self.mu.release()
        try:
            self._wake_clients()
            events = self._poller.poll(math.ceil(timeout * 1000))
        finally:
            self.mu.acquire()
            self._blocked = False
        polled = self._polled
        ready = [polled[fd] for fd, _ in events]
        if self._wake_r in ready:
            self._drain()
        if self.closed:
            raise _Closed
        if self._stale:
            return []
        ready = [r for r in ready if r != self._wake_r]
        if ready:
            inner.drop_idle(ready)
        return ready

    def _wake_clients(self) -> None:
        """Wake the clients with news (the dispatcher, without the lock)."""
        woken, self._to_wake = self._to_wake, set()
        for c in woken:
            c.news.set()

    def _route(self, results: list[AttemptResult], calls: list[ChildCall]) -> None:
        if results:
            now = time.monotonic()
            decay = math.exp((self._rate_at - now) / _RATE_TAU_S)
            self._rate = self._rate * decay + len(results) / _RATE_TAU_S
            self._rate_at = now
        woken: set[PoolClient] = set()
        for r in results:
            c = self._owner.pop((r.execution_id, r.node_id), None)
            if c is None:
                continue  # cancelled (the executor drops those; never expected here)
            c.held.discard((r.execution_id, r.node_id))
            c.results.append(r)
            woken.add(c)
        for call in calls:
            c = self._owner.get((call.execution_id, call.parent))
            if c is not None:
                c.calls.append(call)
                woken.add(c)
        self._to_wake |= woken

    def _dispatch(self) -> None:
        """The dispatcher thread: poll the executor, route what comes back, feed it."""
        inner = self.inner
        with self.mu:
            while not self.closed:
                try:
                    if not inner.running() and not inner.queued():
                        self._idle()
                        continue
                    results = inner.poll(_DISPATCH_WAIT_S)
                    self._route(results, inner.take_child_calls())
                    self.feed()
                except _Closed:
                    return
                except Exception:  # a bug here must not strand every slot
                    log.exception("the shared worker pool's dispatcher failed; it carries on")
                    self.mu.release()
                    try:
                        self._wake_clients()
                        time.sleep(0.1)
                    finally:
                        self.mu.acquire()

    def _idle(self) -> None:
        """Nothing out: wait (without the lock) for a submit to wake us."""
        self._watched = -1  # any worker that becomes busy is news
        self._blocked, self._stale = True, False
        self.mu.release()
        try:
            self._wake_clients()
            _ready({self._wake_r: self._wake_r}, _DISPATCH_WAIT_S)
        finally:
            self.mu.acquire()
            self._blocked = False
        self._drain()
