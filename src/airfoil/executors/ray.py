"""The Ray executor: attempts run on a Ray cluster, in warm worker actors.

Each attempt runs as a call of an :class:`~airfoil.executors._ray_worker.AttemptWorker` actor
placed by Ray with the task's requests (CPUs, memory, GPUs). Actors are kept warm per *task
environment* -- the code root (a registered package's version, or a local folder) and the
shape of the requests -- so the next attempt of the same environment costs one actor call, not
a process start. Inputs and outputs go through the blob store (any fsspec URL every node
reaches), and logs are written there live as on the process executor, so ``airfoil`` tails
them the same way.

Ray is optional (``pip install 'airfoil[ray]'``): it is imported when the executor first
needs the cluster, never at import. With no address a local Ray is started (bounded to this
machine's CPUs, no dashboard) and stopped when the last executor using it closes; with an
address (``ray://``, ``host:port`` or ``auto``) the executor joins that cluster and leaves it
running.

Invariants (those of :mod:`airfoil.executors.process`, on a cluster):

- Each submitted attempt is reported by :meth:`~RayExecutor.poll` exactly once, with the
  worker's result or a ``system`` error the executor writes itself: ``TaskTimeoutError`` (the
  actor was killed past ``task.timeout_s``), ``WorkerLostError`` (the actor or its node died:
  retried on the system budget, never the task's ``retries``) or ``OutOfMemoryError`` (Ray's
  memory monitor killed it). A cancelled attempt is not reported at all.
- A worker runs one attempt at a time; one whose attempt was interrupted (timeout, death,
  cancel, any ``system`` error or ``sys.exit()``) is killed, never reused; a worker never runs a
  task whose version changed since it imported it.
- Ray never retries an attempt on its own (``max_restarts=0``, ``max_task_retries=0``): the
  engine decides, so an attempt never runs twice at once.
- At most ``max_workers`` attempts are started at once; a worker waiting on its child calls does
  not count (as on the process executor), so nested calls never deadlock the executor. Idle
  workers of another environment are stopped to make room.
- The executor is driven from one thread (the engine's loop); it is not thread-safe.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import deque
from typing import Any

import msgspec

from airfoil.core.cluster import ClusterNode
from airfoil.core.errors import ConfigError
from airfoil.core.forks import keep_past_fork
from airfoil.core.phases import ErrorKind
from airfoil.core.records import ErrorInfo, Value
from airfoil.core.resources import ResourceSpec
from airfoil.executors._blob_cache import LOCALITY, BlobCacheConfig, FetchReport
from airfoil.executors._gang import GANG_NODES_ENV
from airfoil.executors._ray_connection import CONNECTION, import_ray
from airfoil.executors._ray_idle import HOLDINGS, Held
from airfoil.executors._ray_placement import (
    cluster_nodes_of,
    infeasible,
    node_strategy,
    room_to_free,
)
from airfoil.executors._ray_pool import (
    Worker,
    environment_key,
    held,
    holds_resources,
    places_own_workers,
    shutdown,
)
from airfoil.executors._ray_reaper import reaper_on, stop_actors
from airfoil.executors._reports import UnreportedAttempts, first_line, unschedulable
from airfoil.executors.base import (
    AttemptRequest,
    AttemptResult,
    ChildCall,
    ChildOutcome,
    Executor,
    RuntimeFactory,
    with_deadline,
)

__all__ = ["RayExecutor", "environment_key", "import_ray"]

_TIMEOUT_MARGIN_S = 0.5  # lets the worker's own SIGALRM report first (with a traceback)
_TAKE_WAIT_S = 30.0  # how long one long poll of the mailbox waits for a child call
_MAKE_ROOM_AFTER_S = 0.5  # a worker still starting then: stop an idle one holding its room
_NODES_TTL_S = 2.0  # how long the cluster's node list is trusted (placement, feasibility)


class RayExecutor(Executor):
    """Runs attempts on a Ray cluster, in warm worker actors.

    Args:
        blob_url: the blob store attempts read inputs from and write outputs to (used when a
            request names none); every node must reach it.
        runtime: builds, in each worker actor, the runtime that runs attempts (a module-level
            function, pickled by reference).
        address: the Ray cluster to join (``host:port``, ``ray://host:10001``, ``auto``);
            None: start a local Ray for as long as this executor is open.
        max_workers: how many attempts may run at once (default: the cluster's CPUs).
        durability: the blob store's durability in the workers.
        blob_cache: how each node caches the blobs its workers fetch (None: the defaults;
            ``BlobCacheConfig(max_bytes=0)``: no cache).
    """

    name = "ray"

    def __init__(
        self,
        blob_url: str,
        *,
        runtime: RuntimeFactory,
        address: str | None = None,
        max_workers: int | None = None,
        durability: str = "process",
        blob_cache: BlobCacheConfig | None = None,
    ) -> None:
        if max_workers is not None and max_workers < 1:
            raise ConfigError(f"max_workers must be at least 1, got {max_workers}")
        self.blob_url = blob_url
        self.runtime = runtime
        self.address = address or None
        self.durability = durability
        self.blob_cache = blob_cache if blob_cache is not None else BlobCacheConfig()
        self._max_workers = max_workers
        self._ray: Any = None
        self._actor_cls: Any = None
        self._mailbox: Any = None
        self._take: Any = None  # the pending Mailbox.take ref
        self._queue: deque[AttemptRequest] = deque()
        self._done: list[AttemptResult] = []
        self._calls: list[ChildCall] = []
        self._waiting: dict[int, int] = {}  # id(worker) -> child calls it waits on
        self._starting: list[Worker] = []
        self._busy: list[Worker] = []
        self._idle: list[Worker] = []
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(AttemptResult)
        self._call_decoder = msgspec.msgpack.Decoder(ChildCall)
        self._fetch_decoder = msgspec.msgpack.Decoder(FetchReport)
        self._unreported = UnreportedAttempts(blob_url)
        self._handles: list[Any] = []  # every actor started, for the finalizer
        #: id(handle) -> (node, pid, start time) of each started worker: its tree is stopped
        self._wheres: dict[int, tuple[str, int, float]] = {}
        self._limit_n: int | None = max_workers
        self._nodes: tuple[float, list[dict[str, Any]]] | None = None  # (when, ray.nodes())
        self._nodes_lock = threading.Lock()
        self._closed = False
        self._finalizer: weakref.finalize[Any, Any] | None = None
        #: This executor in the process's registry of idle holders (never the executor
        #: itself: the registry must not keep it alive).
        self._token = object()

    # --- the Executor seam -----------------------------------------------------------------

    def submit(self, request: AttemptRequest) -> None:
        """Hand an attempt to a warm worker of its environment, starting one if needed (or
        queue it until one may start)."""
        if self._closed:
            raise RuntimeError("this ray executor is closed")
        self._connect()
        self._queue.append(request)
        self._dispatch()

    def poll(self, timeout: float | None) -> list[AttemptResult]:
        """Finished attempts, waiting up to ``timeout`` seconds (None: until one finishes).

        Also where timeouts are enforced and lost workers noticed.
        """
        end = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            now = time.monotonic()
            self._drop_taken()
            self._enforce_deadlines(now)
            self._make_room(now)
            if self._done or self._calls or not (self._busy or self._starting or self._queue):
                done, self._done = self._done, []
                return done
            refs = self._refs()
            times = [t for t in (end, self._next_wake(now)) if t is not None]
            wait_s = max(0.0, min(times) - now) if times else None
            ray = self._ray
            ready, _ = ray.wait(refs, num_returns=1, timeout=wait_s)
            if ready:
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
                self._collect(set(ready))
            elif end is not None and time.monotonic() >= end:
                return []

    def cancel(self, execution_id: str, node_id: str) -> None:
        """Stop the node's attempt: drop it if queued, kill its worker if started.

        Nothing is reported for a cancelled attempt afterwards.
        """

        def other(r: AttemptRequest | ChildCall | AttemptResult | None) -> bool:
            if r is None:
                return True
            node = r.parent if isinstance(r, ChildCall) else r.node_id
            return (r.execution_id, node) != (execution_id, node_id)

        self._queue = deque(r for r in self._queue if other(r))
        self._done = [r for r in self._done if other(r)]
        self._calls = [c for c in self._calls if other(c)]
        for w in [*self._starting, *self._busy]:
            if not other(w.request):
                self._retire(w)
        self._dispatch()

    def take_child_calls(self) -> list[ChildCall]:
        """Child calls that running attempts made since the last call."""
        calls, self._calls = self._calls, []
        return calls

    def answer_child(self, call: ChildCall, outcome: ChildOutcome) -> None:
        """Send ``outcome`` to the attempt that made ``call``, if it still runs."""
        from airfoil.executors._ray_worker import child_key

        for w in self._busy:
            if not call.made_by(w.request):
                continue
            key = child_key(call.execution_id, call.parent, call.parent_attempt, call.node_id)
            self._mailbox.answer.remote(key, self._encoder.encode(outcome))
            left = self._waiting.get(id(w), 0) - 1
            if left > 0:
                self._waiting[id(w)] = left
            else:
                self._waiting.pop(id(w), None)
            return

    def capacity(self) -> ResourceSpec:
        """The cluster's CPUs, memory and GPUs (as Ray reports them now)."""
        ray = self._connect()
        total = ray.cluster_resources()
        return ResourceSpec(
            cpu=float(total.get("CPU", 0.0)),
            mem=int(total.get("memory", 0)),
            gpu=int(total.get("GPU", 0)),
        )

    def cluster_capacity(self) -> ResourceSpec | None:
        return self.capacity()

    def cluster_nodes(self) -> list[ClusterNode]:
        """The cluster's nodes as Ray reports them (alive and dead), read at most every
        ``_NODES_TTL_S`` seconds: nodes that join or leave show within that time."""
        return cluster_nodes_of(self._ray_nodes())

    def preferred_nodes(self, inputs: dict[str, Value]) -> tuple[str, ...]:
        """The nodes whose blob caches hold most of these inputs' bytes, most first (at least
        1 MiB of them): the policy places the attempt on the first with room."""
        return LOCALITY.rank(inputs)

    def max_parallel(self) -> int:
        """``max_workers``, else the cluster's CPUs (at least 1)."""
        return self._limit()

    def running(self) -> int:
        """Attempts given a worker (running, or waiting for their new worker to start)."""
        return len(self._busy) + len(self._starting)

    def close(self) -> None:
        """Stop every worker (and the local Ray, if this was its last user)."""
        self._closed = True
        self._queue.clear()
        self._done.clear()
        if self._finalizer is not None:
            self._finalizer()

    def worker_names(self) -> list[str]:
        """``host:pid:ray`` of the started workers (for diagnostics and tests)."""
        return [w.name for w in [*self._idle, *self._busy] if w.name]

    def worker_pids(self) -> list[int]:
        """The process ids of the started workers, on their nodes (diagnostics and tests)."""
        return [int(name.split(":")[1]) for name in self.worker_names()]

    # --- workers -----------------------------------------------------------------------------

    def _connect(self) -> Any:
        if self._ray is None:
            self._ray = CONNECTION.acquire(self.address, self._max_workers)
            # The finalizer holds the list of actors, never the executor.
            self._finalizer = weakref.finalize(
                self, shutdown, self._handles, self._wheres, self._token, os.getpid()
            )
            keep_past_fork(self)  # a child's release would have the cluster kill the actors
        return self._ray

    def _limit(self) -> int:
        if self._limit_n is None:
            self._limit_n = max(1, int(self.capacity().cpu))
        return self._limit_n

    def _dispatch(self) -> None:
        if not self._queue:
            return
        live = {id(w) for w in [*self._starting, *self._busy, *self._idle]}
        for wid in [k for k in self._waiting if k not in live]:
            del self._waiting[wid]
        self._drop_taken()
        limit = self._limit()
        while self._queue:
            request = self._queue[0]
            if request.placement and places_own_workers(request.task):
                self._free_room(request)  # the gang's ranks go where idle workers may sit
            w = self._idle_worker(request)
            if w is not None:
                self._queue.popleft()
                self._send(w, request)
                continue
            started = len(self._starting) + len(self._busy) - len(self._waiting)
            if started >= limit:
                return
            if started + len(self._idle) >= limit and self._idle:
                self._retire(min(self._idle, key=lambda x: x.last_used))
            self._queue.popleft()
            reason = self._infeasible(request)
            if reason:
                self._done.append(unschedulable(request, reason))
                continue
            self._free_room(request)
            self._start_worker(request)

    def _free_room(self, request: AttemptRequest) -> None:
        """Stop idle warm workers that sit on what the engine's policy gave ``request`` on its
        node(s). The policy counts only attempts, so an idle worker holding CPUs there is a
        cache it did not count: left alone, the new worker (or the gang's placement group,
        pinned to those nodes) would wait for it. The least recently used go first."""
        if not request.placement or not self._idle:
            return
        workers = [*self._starting, *self._busy, *self._idle]
        for w in room_to_free(request, self._ray_nodes(), workers, self._idle):
            self._retire(w)

    def _idle_worker(self, request: AttemptRequest) -> Worker | None:
        """The most recently used idle worker of the request's environment, or None."""
        key = environment_key(request)
        task = (request.task.module, request.task.qualname)
        near = () if request.placement else LOCALITY.rank(request.inputs)[:1]
        for w in sorted(self._idle, key=lambda x: (x.node not in near, -x.last_used)):
            if w.key != key:
                continue
            version = w.tasks.get(task)
            if version is not None and version != request.task.version:
                self._retire(w)  # the task's code changed since it was imported: never stale
                continue
            self._idle.remove(w)
            if not HOLDINGS.claim(w):
                self._forget(w)  # another executor took it (it is being stopped)
                continue
            return w
        return None

    def _infeasible(self, request: AttemptRequest) -> str:
        """Why no node of the cluster, as it is now, could ever start ``request`` ("" if one
        could): Ray would keep such a worker pending forever."""
        return infeasible(request.task, self._ray_nodes())

    def _ray_nodes(self) -> list[dict[str, Any]]:
        """``ray.nodes()``, cached for ``_NODES_TTL_S`` (thread-safe: the engine's queue reads
        the nodes from the threads that drive executions)."""
        with self._nodes_lock:
            now = time.monotonic()
            if self._closed:  # its connection may be gone: the last list it read
                return self._nodes[1] if self._nodes is not None else []
            if self._nodes is None or now - self._nodes[0] > _NODES_TTL_S:
                self._nodes = (now, list(self._connect().nodes()))
                for n in self._nodes[1]:
                    if not n.get("Alive"):  # its blob cache left with it
                        LOCALITY.forget(str(n.get("NodeID", "")))
            return self._nodes[1]

    def _node_capacity(self, node: str) -> Held | None:
        """The CPUs, memory and GPUs of ``node`` (None: not placed, or not alive)."""
        for n in self._ray_nodes() if node else ():
            if n.get("NodeID") == node and n.get("Alive"):
                res = n.get("Resources") or {}
                return (res.get("CPU", 0.0), res.get("memory", 0.0), res.get("GPU", 0.0))
        return None

    def _node_strategy(self, request: AttemptRequest) -> Any:
        """Ray's scheduling strategy for the node the policy placed the attempt on, or None
        (no placement; or the node lacks a custom resource or accelerator the task asks
        for, which the policy does not count: Ray picks, among the nodes that have it)."""
        return node_strategy(request, self._ray_nodes())

    def _start_worker(self, request: AttemptRequest) -> None:
        ray = self._ray
        if self._actor_cls is None:
            from airfoil.executors._ray_worker import AttemptWorker

            self._actor_cls = ray.remote(AttemptWorker)
        mailbox = self._mailbox_actor() if self.child_transport is not None else None
        r = request.task.requests
        if places_own_workers(request.task):
            r = ResourceSpec()
        options: dict[str, Any] = {"max_restarts": 0, "max_task_retries": 0}
        if holds_resources(environment_key(request)):
            # Also 0: an actor asking for any resource holds 1 CPU for life unless told
            # otherwise, which the policy never counted (a GPU task's idle worker kept a
            # 1-CPU GPU node's CPU from the CPU work the policy placed there).
            options["num_cpus"] = r.cpu
        if r.gpu > 0:
            options["num_gpus"] = r.gpu
        if r.mem > 0:
            options["memory"] = r.mem
        if request.task.custom_resources and not places_own_workers(request.task):
            options["resources"] = dict(request.task.custom_resources)
        if request.task.accelerator and not places_own_workers(request.task):
            options["accelerator_type"] = request.task.accelerator
        if not places_own_workers(request.task):
            strategy = self._node_strategy(request)
            if strategy is not None:  # the engine's policy chose the node: Ray is told
                options["scheduling_strategy"] = strategy
        handle = self._actor_cls.options(**options).remote(
            self.runtime, self.blob_url, self.durability, mailbox, self.blob_cache
        )
        self._handles.append(handle)
        w = Worker(handle=handle, key=environment_key(request), request=request)
        w.node = request.placement[0] if request.placement else ""
        w.ready = handle.ready.remote()
        w.created = time.monotonic()
        w.room_at = w.created + _MAKE_ROOM_AFTER_S
        if holds_resources(w.key):
            HOLDINGS.started(w, self._token, w.node, held(w.key))
        self._starting.append(w)

    def _send(self, w: Worker, request: AttemptRequest) -> None:
        w.request = request
        if request.placement and places_own_workers(request.task):
            # the gang's supervisor pins each rank's bundle to the node the policy chose
            env = {**request.task.environment, GANG_NODES_ENV: ",".join(request.placement)}
            task = msgspec.structs.replace(request.task, environment=env)
            request = msgspec.structs.replace(request, task=task)
        timeout = request.task.timeout_s
        if timeout:  # the worker's interrupt fires then, before the hard stop (the margin)
            request = with_deadline(request, timeout)
        w.ref = w.handle.run.remote(self._encoder.encode(request))
        w.started = time.time()
        w.deadline = time.monotonic() + timeout + _TIMEOUT_MARGIN_S if timeout else None
        w.tasks[(request.task.module, request.task.qualname)] = request.task.version
        self._busy.append(w)

    def _mailbox_actor(self) -> Any:
        if self._mailbox is None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            from airfoil.executors._ray_worker import Mailbox

            # On the driver's node, taking no CPU: it lives as long as the driver can.
            here = self._ray.get_runtime_context().get_node_id()
            self._mailbox = (
                self._ray.remote(Mailbox)
                .options(
                    num_cpus=0,
                    max_restarts=0,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=True),
                )
                .remote()
            )
            self._handles.append(self._mailbox)
        return self._mailbox

    def _refs(self) -> list[Any]:
        refs = [w.ready for w in self._starting] + [w.ref for w in self._busy]
        if self._mailbox is not None and self._busy:
            if self._take is None:
                self._take = self._mailbox.take.remote(_TAKE_WAIT_S)
            refs.append(self._take)
        return refs

    def _collect(self, ready: set[Any]) -> None:
        ray = self._ray
        if self._take is not None and self._take in ready:
            take, self._take = self._take, None
            try:
                for data in ray.get(take):
                    call = self._call_decoder.decode(data)
                    owner = self._caller(call)
                    if owner is None:
                        continue  # its caller is gone (cancelled): nobody waits for it
                    self._calls.append(call)
                    self._waiting[id(owner)] = self._waiting.get(id(owner), 0) + 1
            except ray.exceptions.RayError as exc:
                self._mailbox_lost(exc)
        for w in [w for w in self._starting if w.ready in ready]:
            self._starting.remove(w)
            request = w.request
            assert request is not None
            try:
                w.name, where = ray.get(w.ready)
            except ray.exceptions.RayError as exc:
                self._lost(w, exc, starting=True)
                continue
            w.where = self._wheres[id(w.handle)] = tuple(where)
            reaper_on(ray, w.where[0])  # up before it is needed to stop this worker
            w.ready = None
            self._send(w, request)
        for w in [w for w in self._busy if w.ref in ready]:
            try:
                data, fetched = ray.get(w.ref)
            except ray.exceptions.RayError as exc:
                self._busy.remove(w)
                self._lost(w, exc, starting=False)
                continue
            if fetched is not None:  # what its node's blob cache now holds
                report = self._fetch_decoder.decode(fetched)
                LOCALITY.record(report)
                w.node = report.node or w.node
            self._finish(w, self._decoder.decode(data))
        self._dispatch()

    def _caller(self, call: ChildCall) -> Worker | None:
        return next((w for w in self._busy if call.made_by(w.request)), None)

    def _finish(self, w: Worker, result: AttemptResult) -> None:
        self._busy.remove(w)
        self._waiting.pop(id(w), None)
        self._done.append(result)
        w.request, w.ref, w.deadline = None, None, None
        w.last_used = time.monotonic()
        err = result.error
        if err is not None and (err.kind != ErrorKind.USER or err.type == "SystemExit"):
            self._retire(w)
        else:
            self._idle.append(w)
            HOLDINGS.idle(w, w.last_used)

    def _lost(self, w: Worker, exc: Exception, *, starting: bool) -> None:
        """The worker (or its node) died: report its attempt as a system error."""
        text = str(exc)
        where = f" ({w.name})" if w.name else ""
        if "OutOfMemory" in type(exc).__name__ or "out of memory" in text.lower():
            error = ErrorInfo(
                kind=ErrorKind.SYSTEM,
                type="OutOfMemoryError",
                message=f"the Ray worker{where} running the attempt was killed for memory: "
                + first_line(text),
            )
        else:
            what = "could not start" if starting else "was lost mid-attempt"
            error = ErrorInfo(
                kind=ErrorKind.SYSTEM,
                type="WorkerLostError",
                message=f"the Ray worker{where} {what} (the actor or its node died): "
                + first_line(text),
            )
        self._report(w, error)
        self._retire(w)

    def _mailbox_lost(self, exc: Exception) -> None:
        """The mailbox died: every attempt waiting on a child can never hear back, and every
        worker holds the dead mailbox (a new one comes with the next worker started)."""
        self._mailbox = None
        for w in list(self._busy):
            if self._waiting.get(id(w)):
                self._busy.remove(w)
                self._lost(w, exc, starting=False)
        for w in list(self._idle):
            self._retire(w)

    def _retire(self, w: Worker) -> None:
        """Stop ``w`` with every process its tasks started (in any session), then forget it."""
        stop_actors(self._ray, [(w.handle, w.where)])
        self._forget(w)

    def _forget(self, w: Worker) -> None:
        """Drop ``w`` from this executor's pools (it was stopped, here or by another)."""
        HOLDINGS.discard(w)
        for pool in (self._starting, self._busy, self._idle):
            if w in pool:
                pool.remove(w)
        self._waiting.pop(id(w), None)
        if w.handle in self._handles:
            self._handles.remove(w.handle)
        self._wheres.pop(id(w.handle), None)

    def _drop_taken(self) -> None:
        """Forget idle workers another executor of the process took (and stopped) to make
        room for its own on their node."""
        for w in [w for w in self._idle if HOLDINGS.was_taken(w)]:
            self._forget(w)

    def _enforce_deadlines(self, now: float) -> None:
        for w in list(self._busy):
            if w.deadline is None or now < w.deadline:
                continue
            request = w.request
            assert request is not None
            self._busy.remove(w)
            self._report(
                w,
                ErrorInfo(
                    kind=ErrorKind.SYSTEM,
                    type="TaskTimeoutError",
                    message=f"the attempt ran past its timeout of {request.task.timeout_s:g}s "
                    f"and was stopped (Ray worker {w.name or '?'} killed)",
                ),
            )
            self._retire(w)
        if self._queue:
            self._dispatch()

    def _make_room(self, now: float) -> None:
        """A worker still starting after a while may wait for resources that idle warm
        workers hold on its node -- this executor's or another's of the process (a server's
        other slots): the policy counts attempts, not idle workers. Stop one per
        ``_MAKE_ROOM_AFTER_S``: this executor's own idle holders on that node first (least
        recently used), then, while the process's workers there hold more than the node has,
        another executor's holding what is short. Idle workers on other nodes, and other
        executors' on a node with room, are left warm. A worker Ray places
        (no node) may wait for any idle holder: this executor's are stopped for it."""
        for w in self._starting:
            if now < w.room_at:
                continue
            w.room_at = now + _MAKE_ROOM_AFTER_S
            taken = HOLDINGS.take(w.node, self._node_capacity(w.node), self._token)
            if taken is None:
                continue
            if taken in self._idle:
                self._retire(taken)
            else:  # another executor's: it forgets the worker at its next look
                stop_actors(self._ray, [(taken.handle, taken.where)])

    def _next_wake(self, now: float) -> float | None:
        times = [w.deadline for w in self._busy if w.deadline is not None]
        for w in self._starting:
            if HOLDINGS.over_held(w.node, self._node_capacity(w.node), self._token):
                times.append(max(w.room_at, now))
        return min(times) if times else None

    def _report(self, w: Worker, error: ErrorInfo) -> None:
        """Report an attempt the worker could not report itself, noting why in its log."""
        request = w.request
        assert request is not None
        self._done.append(
            self._unreported.result(
                request, error, started=w.started or time.time(), worker=w.name or "ray"
            )
        )
