"""The process-wide resource queue: attempts that ask for CPUs, memory or GPUs wait here and
are admitted by the scheduling policy, so every execution driven in one process competes
for the machine fairly.

:class:`ResourceQueue` wraps one :class:`~airfoil.scheduler.SchedulerState` behind a lock:
over one node (this machine: its CPUs, memory and GPUs, or what settings say), or over the
nodes of a cluster an executor reports (Ray's, re-read at every decision: the policy places
each attempt, gangs worker by worker, and the placement travels with the grant), so the drive
loops of many executions (the server's driver slots, threads of a local program) can share
it. A drive loop submits its nodes' attempt requests, asks for a decision, and takes what
the decision gave *its* execution: nodes to start (with the GPU indices they were placed
on) and nodes to preempt. Quotas and priorities come from the store
(:class:`~airfoil.store._scheduling.ProjectQuota`, re-read every ``quota_refresh_s``); run-time
estimates from the store's history of the same task (median of past durations, see
:class:`~airfoil.scheduler.RuntimeEstimator` for the fallback). What waits and why is written
to the store as this process's :class:`~airfoil.store._scheduling.QueueSnapshot`, which is
what ``airfoil queue`` shows from any process.

Invariants:

- An attempt request is waiting, running (granted) or unknown, never two of these; a granted
  or preempted node is handed to its execution's loop exactly once.
- GPU indices are exclusive: a running item holds ``requests.gpu`` distinct indices, and
  they return to the free list when it finishes or is preempted.
- A preempted request keeps its submit time and attained service when its node is queued
  again (the retry), so preemption does not send it to the back of the queue.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import msgspec

from airfoil.core.cluster import ClusterNode
from airfoil.core.errors import UnschedulableTaskError
from airfoil.core.records import TaskSpec
from airfoil.core.resources import ResourceSpec
from airfoil.engine._requests import asks_for_resources, best_effort_request
from airfoil.scheduler import (
    DEFAULT_POLICY,
    Node,
    Quota,
    RuntimeEstimator,
    SchedulerState,
    UnknownItemError,
    UnschedulableError,
    WorkItem,
)
from airfoil.store._scheduling import NodeUsage, ProjectQuota, QueuedItem, QueueSnapshot
from airfoil.store.base import MetaStore

__all__ = [
    "AdmissionQueue",
    "Outcomes",
    "ResourceQueue",
    "asks_for_resources",
    "describe",
    "machine_queue",
    "record_runtime",
]

log = logging.getLogger("airfoil.engine")

NODE = "local"


def describe(r: ResourceSpec) -> str:
    """``cpu=2, mem=512Mi, gpu=1`` (what a task asks for, or a capacity)."""
    return f"cpu={r.cpu:g}, mem={r.mem / 2**20:.0f}Mi, gpu={r.gpu}"


class AdmissionQueue(Protocol):
    """What drive loops admit resource-asking attempts through: a process's
    :class:`ResourceQueue` (it decides), or a server replica's
    :class:`~airfoil.engine._authority.AuthorityQueue` (the cluster's admission authority
    decides, whichever replica holds it)."""

    def check(self, task: TaskSpec, node_id: str, project: str) -> None: ...

    def submit(
        self,
        execution_id: str,
        node_id: str,
        project: str,
        task: TaskSpec,
        *,
        prefer: tuple[str, ...] = (),
    ) -> None: ...

    def decide(self) -> None: ...

    def take(self, execution_id: str) -> tuple[list[str], list[str]]: ...

    def gpus_of(self, execution_id: str, node_id: str) -> tuple[str, ...]: ...

    def placement_of(self, execution_id: str, node_id: str) -> tuple[str, ...]: ...

    def finish(
        self,
        execution_id: str,
        node_id: str,
        *,
        succeeded: bool = False,
        attempt: int = 0,
        duration: float | None = None,
    ) -> None: ...

    def forget(self, execution_id: str) -> None: ...

    def close(self) -> None: ...


class Outcomes:
    """What a queue decided and its executions' loops have yet to take: per execution, the
    nodes granted a start and the running nodes to preempt (the in-process queue's and the
    authority's replicas' alike). A queue sets ``_lock``, ``_granted`` and ``_preempted``."""

    _lock: threading.Lock | threading.RLock
    _granted: dict[str, list[str]]
    _preempted: dict[str, list[str]]

    def take(self, execution_id: str) -> tuple[list[str], list[str]]:
        """The execution's nodes granted a start, and its running nodes to preempt, since
        the last call (each handed out once)."""
        with self._lock:
            return (
                self._granted.pop(execution_id, []),
                self._preempted.pop(execution_id, []),
            )


@dataclass
class _Ticket:
    execution_id: str
    node_id: str
    task: str
    item: WorkItem
    gpus: tuple[str, ...] = ()
    placement: tuple[str, ...] = ()
    running: bool = False
    #: the policy's node per worker (``placement`` is it on a cluster, empty on a machine)
    where: tuple[str, ...] = ()


class ResourceQueue(Outcomes):
    """Admission of resource-asking attempts for every execution driven in this process.

    Args:
        capacity: what attempts may use at once (this machine's, or configured).
        gpu_ids: the GPU indices to hand out (``len == capacity.gpu``; default ``0..N-1``).
        policy: the scheduling policy's name (see :func:`airfoil.scheduler.get_policy`).
        meta: the store quotas, run-time history and queue snapshots live in (None: no
            quotas, no history, nothing persisted; for tests of the queue alone).
        owner: this process's name in queue snapshots.
        quota_refresh_s: how often quotas are re-read from the store.
        snapshot_every_s: the least time between two snapshot writes.
        default_estimate_s: the run-time estimate of a task with no history.
        clock: seconds since the epoch (default ``time.time``).
        cluster: the nodes of the cluster attempts are placed on (an executor's
            :meth:`~airfoil.executors.base.Executor.cluster_nodes`, cached by it), read at
            every decision: the policy places work on those nodes (whole nodes for gangs) and
            the placement travels with the grant (:meth:`placement_of`); GPU indices are then
            the cluster's to pick, not the queue's. None: one node of ``capacity``.
    """

    def __init__(
        self,
        capacity: ResourceSpec,
        gpu_ids: Sequence[str] | None = None,
        *,
        policy: str = DEFAULT_POLICY,
        meta: MetaStore | None = None,
        owner: str = "",
        quota_refresh_s: float = 2.0,
        snapshot_every_s: float = 0.5,
        default_estimate_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
        cluster: Callable[[], Sequence[ClusterNode]] | None = None,
        local_run: bool = False,
    ) -> None:
        self.cluster = cluster
        #: a local run's queue: tasks treating their requests as hints locally (flytekit-style)
        #: are admitted with what this machine has (:meth:`_shape`)
        self.local_run = local_run and cluster is None
        self._hinted: set[str] = set()
        self._cluster_nodes: tuple[ClusterNode, ...] = ()
        if cluster is not None:
            gpu_ids = ()  # the cluster picks GPUs on the node it was told
        ids = tuple(gpu_ids) if gpu_ids is not None else ()
        if len(ids) != capacity.gpu and cluster is None:
            ids = tuple(str(i) for i in range(capacity.gpu))
        self.capacity = capacity
        self.policy_name = policy
        self.meta = meta
        self.owner = owner
        self.clock = clock
        self.quota_refresh_s = quota_refresh_s
        self.snapshot_every_s = snapshot_every_s
        self._lock = threading.RLock()
        self._state = SchedulerState(
            [Node(NODE, capacity)],
            policy=policy,
            estimator=RuntimeEstimator(default=default_estimate_s),
        )
        self._tickets: dict[str, _Ticket] = {}
        self._granted: dict[str, list[str]] = {}
        self._preempted: dict[str, list[str]] = {}
        self._resume: dict[str, WorkItem] = {}
        self._free_gpus: list[str] = list(ids)
        self._gpu_order = {g: i for i, g in enumerate(ids)}
        self._reasons: dict[str, str] = {}
        self._priorities: dict[str, int] = {}
        self._history_loaded: set[str] = set()
        self._changed = True
        self._wake_at: float | None = None
        self._quotas_at = float("-inf")
        self._snapshot_at = float("-inf")
        self._snapshot_dirty = False
        self._writing = threading.Lock()
        self._refresh_nodes()

    # -- launch-time check ---------------------------------------------------------------

    def check(self, task: TaskSpec, node_id: str, project: str) -> None:
        """Raise if the task could never start here (too big for the machine, or for its
        project's quota without borrowing).

        Raises:
            UnschedulableTaskError: naming the task, what it asked for and the capacity.
        """
        self._refresh_quotas(force=True)
        self._refresh_nodes()
        per, workers = self._shape(task)
        item = WorkItem(f"check/{node_id}", project, per, gang_size=workers)
        with self._lock:
            try:
                self._state.check(item)
            except UnschedulableError:
                quota = self._state.quotas.get(project)
                too_big = not self._state.pool.can_ever_fit(_demand(per), workers)
                limit = self.capacity if too_big or quota is None else quota.nominal
                if not too_big:
                    where = (
                        f"project {project!r} may use at most {describe(limit)} (its quota, "
                        "without borrowing)"
                    )
                elif self.cluster is None:
                    where = f"this machine can give at most {describe(self.capacity)}"
                else:
                    where = (
                        f"no node of the cluster can hold {'a worker of ' if workers > 1 else ''}"
                        f"it{f' on {workers} workers' if workers > 1 else ''} (its alive nodes: "
                        f"{self._describe_nodes() or 'none'})"
                    )
                fix = (
                    "Lower its requests or run it where there is more capacity"
                    if too_big
                    else f"Lower its requests or raise the quota (`airfoil quotas set {project}`)"
                )
                raise UnschedulableTaskError(
                    f"task {task.name!r} (node {node_id}) requests {describe(task.requests)} "
                    f"but {where}: it could never start. {fix}",
                    task=task.name,
                    node_id=node_id,
                    requested=task.requests,
                    capacity=limit,
                ) from None

    def _shape(self, task: TaskSpec) -> tuple[ResourceSpec, int]:
        """:func:`work_shape`; on a local run, a task whose requests are hints there
        (``LOCAL_RESOURCES_KEY``) asks only for what this machine has, with one warning per
        task naming what is not enforced."""
        per, workers = work_shape(task)
        if not self.local_run or workers > 1:
            return per, workers
        fitted = best_effort_request(task, per, self.capacity)
        if fitted != per and task.name not in self._hinted:
            self._hinted.add(task.name)
            warnings.warn(
                f"task {task.name!r} requests {describe(per)} but this machine can give at most "
                f"{describe(self.capacity)}: the request is not enforced in a local run (as "
                "flytekit's local runs ignore resources); it runs with "
                f"{describe(fitted)}. A server or cluster honours it.",
                UserWarning,
                stacklevel=2,
            )
        return fitted, workers

    # -- a drive loop's calls --------------------------------------------------------------

    def submit(
        self,
        execution_id: str,
        node_id: str,
        project: str,
        task: TaskSpec,
        *,
        prefer: tuple[str, ...] = (),
    ) -> None:
        """Queue the next attempt of a node (``prefer``: cluster nodes to place it on if one
        has room, best first: they hold its inputs)."""
        self.submit_item(
            execution_id,
            node_id,
            task.name,
            self.new_item(execution_id, node_id, project, task, prefer=prefer),
        )

    def new_item(
        self,
        execution_id: str,
        node_id: str,
        project: str,
        task: TaskSpec,
        *,
        prefer: tuple[str, ...] = (),
    ) -> WorkItem:
        """The work item of a node's next attempt: its shape, its project's priority, now,
        and the nodes it prefers (none on a one-machine queue: nothing to prefer)."""
        self._refresh_quotas()
        per, workers = self._shape(task)
        with self._lock:
            priority = self._priorities.get(project, 0)
        return WorkItem(
            id=f"{execution_id}/{node_id}",
            project=project,
            resources=per,
            gang_size=workers,
            priority=priority,
            interruptible=task.interruptible,
            submit_time=self.clock(),
            task_key=task.name,
            prefer=prefer if self.cluster is not None else (),
        )

    def submit_item(self, execution_id: str, node_id: str, task: str, item: WorkItem) -> None:
        """Queue a work item (``item.id`` is ``execution_id/node_id``); one this queue
        preempted resumes with its submit time and attained service instead."""
        self._load_history(task)
        self._refresh_quotas()
        with self._lock:
            if item.id in self._tickets:
                return
            resumed = self._resume.pop(item.id, None)
            if resumed is not None and item.prefer != resumed.prefer:
                resumed = msgspec.structs.replace(resumed, prefer=item.prefer)
            item = item if resumed is None else resumed
            self._state.submit(item)
            self._tickets[item.id] = _Ticket(execution_id, node_id, task, item)
            self._changed = True

    def adopt(
        self,
        execution_id: str,
        node_id: str,
        task: str,
        item: WorkItem,
        placement: Sequence[str],
        gpus: Sequence[str],
        started_at: float,
    ) -> None:
        """Count an item another decision maker started (a previous admission authority) as
        running on ``placement`` with ``gpus`` since ``started_at``.

        Raises:
            PlacementError: it does not fit there (the nodes changed meanwhile).
        """
        self._load_history(task)
        with self._lock:
            if item.id in self._tickets:
                return
            self._state.submit(item)
            try:
                self._state.start(item.id, placement, started_at)
            except Exception:
                self._state.withdraw(item.id)
                raise
            ticket = _Ticket(execution_id, node_id, task, item, running=True)
            ticket.where = tuple(placement)
            ticket.gpus = tuple(g for g in gpus if g in self._gpu_order)
            if self.cluster is not None:
                ticket.placement = tuple(placement)
            self._free_gpus = [g for g in self._free_gpus if g not in ticket.gpus]
            self._tickets[item.id] = ticket
            self._changed = True
            self._snapshot_dirty = True

    def take_all(self) -> tuple[list[tuple[str, str]], list[tuple[str, str, WorkItem]]]:
        """Every ``(execution, node)`` granted a start since the last call, with where
        (:meth:`policy_placement_of`), and every ``(execution, node, item)`` preempted (the
        item as it waits to resume: its attained service grown)."""
        with self._lock:
            granted = [(e, n) for e, nodes in self._granted.items() for n in nodes]
            preempted = [
                (e, n, self._resume[f"{e}/{n}"])
                for e, nodes in self._preempted.items()
                for n in nodes
                if f"{e}/{n}" in self._resume
            ]
            self._granted.clear()
            self._preempted.clear()
            return granted, preempted

    def policy_placement_of(self, execution_id: str, node_id: str) -> tuple[str, ...]:
        """The node per worker the policy started a running item on (also on a machine
        queue, where it is ``local``)."""
        with self._lock:
            ticket = self._tickets.get(f"{execution_id}/{node_id}")
            return ticket.where if ticket is not None and ticket.running else ()

    def decide(self) -> None:
        """Ask the policy what to start and preempt, if anything changed since it last did
        (or it asked to be woken by now); hand the outcome to the executions' loops."""
        self._refresh_quotas()
        self._refresh_nodes()
        now = self.clock()
        with self._lock:
            if not self._changed and (self._wake_at is None or now < self._wake_at):
                return
            self._changed = False
            if not self._state.waiting:
                self._reasons = {}
                self._wake_at = None
                self._snapshot_dirty = True
                return
            decision = self._state.decide(now)
            for item_id in decision.preemptions:
                self._preempt(item_id, now)
            for start in decision.starts:
                self._state.start(start.item_id, start.placement, now)
                ticket = self._tickets[start.item_id]
                ticket.running = True
                ticket.where = tuple(start.placement)
                if self.cluster is not None:
                    ticket.placement = start.placement
                item = ticket.item
                need = int(item.resources.gpu) * item.gang_size if self._gpu_order else 0
                ticket.gpus = tuple(self._free_gpus[:need])
                del self._free_gpus[:need]
                self._granted.setdefault(ticket.execution_id, []).append(ticket.node_id)
            self._reasons = dict(decision.reasons)
            self._wake_at = decision.wake_at
            self._snapshot_dirty = True
        self._maybe_persist(now)

    def gpus_of(self, execution_id: str, node_id: str) -> tuple[str, ...]:
        """The GPU indices a granted node was placed on."""
        with self._lock:
            ticket = self._tickets.get(f"{execution_id}/{node_id}")
            return ticket.gpus if ticket is not None and ticket.running else ()

    def placement_of(self, execution_id: str, node_id: str) -> tuple[str, ...]:
        """The cluster nodes a granted node was placed on (one per gang worker); empty on a
        queue over this machine."""
        with self._lock:
            ticket = self._tickets.get(f"{execution_id}/{node_id}")
            return ticket.placement if ticket is not None and ticket.running else ()

    def finish(
        self,
        execution_id: str,
        node_id: str,
        *,
        succeeded: bool = False,
        attempt: int = 0,
        duration: float | None = None,
    ) -> None:
        """A node's attempt ended (or was cancelled, or will not start): free what it held.

        A success with a ``duration`` feeds the run-time history, in memory and in the store.
        """
        item_id = f"{execution_id}/{node_id}"
        now = self.clock()
        with self._lock:
            self._resume.pop(item_id, None)
            ticket = self._tickets.pop(item_id, None)
            if ticket is None:
                return
            if ticket.running:
                try:
                    self._state.finish(item_id, now, succeeded=False)
                except UnknownItemError:  # pragma: no cover - an invariant
                    log.error("resource queue lost running item %s", item_id)
                self._give_gpus(ticket.gpus)
            else:
                self._state.withdraw(item_id)
            if succeeded and duration is not None and duration >= 0:
                self._state.estimator.record(ticket.task, duration)
            self._changed = True
            self._snapshot_dirty = True
        if succeeded and duration is not None and duration >= 0 and self.meta is not None:
            record_runtime(self.meta, ticket.task, execution_id, node_id, attempt, duration, now)

    def forget(self, execution_id: str) -> None:
        """Drop everything of an execution (its drive ended): waiting, granted, running."""
        with self._lock:
            nodes = [t.node_id for t in self._tickets.values() if t.execution_id == execution_id]
            self._granted.pop(execution_id, None)
            self._preempted.pop(execution_id, None)
            for key in [k for k in self._resume if k.startswith(f"{execution_id}/")]:
                del self._resume[key]
        for node_id in nodes:
            self.finish(execution_id, node_id)
        self._maybe_persist(self.clock(), force=True)

    # -- views -----------------------------------------------------------------------------

    def snapshot(self) -> QueueSnapshot:
        """What waits (in queue order, with why) and what runs, now."""
        with self._lock:
            state = self._state
            items: list[QueuedItem] = []
            for item in state.waiting_items():
                items.append(self._queued(item, "waiting", self._reasons.get(item.id, "")))
            for run in state.running_items():
                items.append(self._queued(run.item, "running", ""))
            return QueueSnapshot(
                owner=self.owner,
                updated_at=self.clock(),
                policy=self.policy_name,
                capacity=self.capacity,
                items=tuple(items),
                nodes=self._node_usage(),
            )

    def persist(self, *, force: bool = True) -> None:
        """Write this process's snapshot to the store now (without ``force``: if it changed
        and the last write is ``snapshot_every_s`` old)."""
        self._maybe_persist(self.clock(), force=force)

    def close(self) -> None:
        """Remove this process's snapshot from the store."""
        if self.meta is not None:
            try:
                self.meta.delete_queue_snapshot(self.owner)
            except Exception:  # pragma: no cover - best effort at shutdown
                log.exception("removing the queue snapshot failed")

    # -- internals ---------------------------------------------------------------------------

    def _queued(self, item: WorkItem, state: str, reason: str) -> QueuedItem:
        ticket = self._tickets[item.id]
        return QueuedItem(
            execution_id=ticket.execution_id,
            node_id=ticket.node_id,
            project=item.project,
            task=ticket.task,
            requests=item.resources,
            state=state,
            submit_time=item.submit_time,
            priority=item.priority,
            interruptible=item.interruptible,
            reason=reason,
            gpus=ticket.gpus,
            estimate=self._state.remaining_estimate(item.id),
            placement=ticket.placement,
            workers=item.gang_size,
        )

    def _refresh_nodes(self) -> None:
        """Read the cluster's nodes; when they changed (a node joined or left), the policy
        places on the new list from this decision on (work on a node that left drains)."""
        if self.cluster is None:
            return
        try:
            nodes = tuple(self.cluster())
        except Exception:  # keep the last list: the runs go on, Ray reports lost workers
            log.exception("reading the cluster's nodes failed")
            return
        with self._lock:
            if nodes == self._cluster_nodes:
                return
            alive = [n for n in nodes if n.alive]
            before = {n.name for n in self._cluster_nodes if n.alive}
            self._cluster_nodes = nodes
            if {n.name for n in alive} != before:
                log.info("cluster nodes now: %s", ", ".join(n.name[:8] for n in alive) or "none")
            self._state.set_nodes([Node(n.name, n.capacity) for n in alive])
            self.capacity = ResourceSpec(
                cpu=sum(n.capacity.cpu for n in alive),
                mem=sum(n.capacity.mem for n in alive),
                gpu=sum(n.capacity.gpu for n in alive),
            )
            self._changed = True
            self._snapshot_dirty = True

    def _describe_nodes(self) -> str:
        alive = [n for n in self._cluster_nodes if n.alive]
        return "; ".join(f"{n.address or n.name[:8]}: {describe(n.capacity)}" for n in alive)

    def _node_usage(self) -> tuple[NodeUsage, ...]:
        """Each cluster node with what this queue's running attempts hold there and which
        they are (empty on a queue over this machine). A node that left shows while work
        placed there drains."""
        if self.cluster is None:
            return ()
        held: dict[str, list[float]] = {}
        where: dict[str, list[str]] = {}
        for run in self._state.running_items():
            ticket = self._tickets[run.item.id]
            r = run.item.resources
            for name in run.placement:
                h = held.setdefault(name, [0.0, 0.0, 0.0])
                h[0] += r.cpu
                h[1] += r.mem
                h[2] += r.gpu
            for name in dict.fromkeys(run.placement):
                where.setdefault(name, []).append(f"{ticket.execution_id}/{ticket.node_id}")
        nodes = {n.name: n for n in self._cluster_nodes}
        for name in where:  # left the cluster and no longer reported: still draining
            nodes.setdefault(name, ClusterNode(name, alive=False))
        out = []
        for name, node in nodes.items():
            c, m, g = held.get(name, (0.0, 0.0, 0.0))
            used = ResourceSpec(cpu=round(c, 3), mem=int(m), gpu=int(g))
            out.append(NodeUsage(node=node, used=used, running=tuple(where.get(name, ()))))
        return tuple(out)

    def _preempt(self, item_id: str, now: float) -> None:
        """Stop a running item: queue it aside until its node is queued again (the retry)."""
        ticket = self._tickets.pop(item_id)
        self._state.preempt(item_id, now)
        self._resume[item_id] = self._state.withdraw(item_id)
        self._give_gpus(ticket.gpus)
        self._preempted.setdefault(ticket.execution_id, []).append(ticket.node_id)
        self._changed = True

    def _give_gpus(self, gpus: tuple[str, ...]) -> None:
        if gpus:
            self._free_gpus.extend(gpus)
            self._free_gpus.sort(key=self._gpu_order.__getitem__)

    def _load_history(self, task: str) -> None:
        """Feed the estimator the store's durations of ``task`` (once per task)."""
        if task in self._history_loaded:
            return
        durations: list[float] = []
        if self.meta is not None:
            try:
                durations = self.meta.task_runtimes(task, limit=self._state.estimator.window)
            except Exception:  # advisory: fall back to the default estimate
                log.exception("reading the run times of %s failed", task)
        with self._lock:
            if task in self._history_loaded:
                return
            self._history_loaded.add(task)
            for duration in reversed(durations):  # oldest first
                self._state.estimator.record(task, duration)

    def refresh_quotas(self) -> None:
        """Read the quotas and priorities from the store now (they are otherwise re-read at
        most every ``quota_refresh_s``)."""
        self._refresh_quotas(force=True)

    def _refresh_quotas(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if self.meta is None or (not force and now - self._quotas_at < self.quota_refresh_s):
            return
        self._quotas_at = now
        try:
            records = self.meta.list_quotas()
        except Exception:  # keep the last quotas
            log.exception("reading project quotas failed")
            return
        self.set_quotas(records)

    def set_quotas(self, records: Sequence[ProjectQuota]) -> None:
        """Use these quotas and priorities from now on (running work is never stopped by
        this alone; a quota lowered below what runs is reclaimed by preemption, if the
        policy reclaims)."""
        quotas = {
            q.project: Quota(
                nominal=q.nominal,
                borrowing_limit=None if q.borrow else ResourceSpec(),
                weight=q.weight if q.weight > 0 else 1.0,
            )
            for q in records
        }
        priorities = {q.project: q.priority for q in records}
        with self._lock:
            if quotas == self._state.quotas and priorities == self._priorities:
                return
            self._state.set_quotas(quotas)
            self._priorities = priorities
            self._changed = True

    def _maybe_persist(self, now: float, *, force: bool = False) -> None:
        if self.meta is None:
            return
        if not force and (
            not self._snapshot_dirty or now - self._snapshot_at < self.snapshot_every_s
        ):
            return
        if not self._writing.acquire(blocking=force):
            return  # another thread is writing it
        try:
            self._snapshot_at = now
            self._snapshot_dirty = False
            snap = self.snapshot()
            self.meta.put_queue_snapshot(snap)
        except Exception:  # advisory: the queue view may lag, the runs go on
            log.exception("writing the queue snapshot failed")
        finally:
            self._writing.release()


def record_runtime(
    meta: MetaStore,
    task: str,
    execution_id: str,
    node_id: str,
    attempt: int,
    duration: float,
    now: float,
) -> None:
    """Add a successful attempt's duration to the store's run-time history (advisory: a
    failure is logged, never raised)."""
    try:
        meta.record_task_runtime(
            task,
            execution_id=execution_id,
            node_id=node_id,
            attempt=attempt,
            duration=duration,
            ended_at=now,
        )
    except Exception:  # advisory: an estimate is not worth failing a run over
        log.exception("recording the run time of %s failed", task)


def work_shape(task: TaskSpec) -> tuple[ResourceSpec, int]:
    """What each worker of a task's attempt needs, and how many workers it has: a training
    task is a gang of ``workers`` x its per-worker resources (its ``requests`` are the
    total), so the policy places it all or nothing, on whole nodes when it spans nodes."""
    config = task.config
    workers = config.get("workers") if config.get("gang") else None
    if isinstance(workers, int) and workers > 1:
        per = ResourceSpec(
            cpu=float(config.get("cpu", 0.0) or 0.0),
            mem=int(config.get("mem", 0) or 0),
            gpu=int(config.get("gpu", 0) or 0),
        )
        return per, workers
    return task.requests, 1


def _demand(r: ResourceSpec) -> tuple[int, int, int]:
    return (round(r.cpu * 1000), int(r.mem), int(r.gpu))


def machine_queue(
    meta: MetaStore | None,
    *,
    owner: str,
    policy: str = DEFAULT_POLICY,
    gpus: int | None = None,
    capacity: ResourceSpec | None = None,
    local_run: bool = False,
) -> ResourceQueue:
    """A queue over this machine: its CPUs and memory, and its GPUs (``gpus`` pretends there
    are that many; default: :func:`~airfoil.executors.base.detect_gpus`). ``local_run``: see
    :class:`ResourceQueue`.

    Raises:
        UnknownPolicyError: ``policy`` names no policy.
    """
    from airfoil.executors.base import detect_gpus, machine_capacity

    cap = capacity or machine_capacity()
    ids = tuple(str(i) for i in range(gpus)) if gpus is not None else detect_gpus()
    cap = ResourceSpec(cpu=cap.cpu, mem=cap.mem, gpu=len(ids) if capacity is None else cap.gpu)
    return ResourceQueue(cap, ids, policy=policy, meta=meta, owner=owner, local_run=local_run)
