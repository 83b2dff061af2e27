"""The scheduler's persistent, incrementally updated view of the cluster.

:class:`SchedulerState` holds the waiting queue, the running set, free capacity per node and
usage per project, each indexed so a policy's :meth:`~SchedulerState.decide` never sorts or
rescans what did not change: the queue is kept sorted (``bisect`` inserts, one global list and
one per project), running work is kept sorted by expected end, and free capacity is bucketed
per node. Every method is pure in-memory bookkeeping: no clock, no I/O; the caller passes
``now``.

The loop that drives it (the engine, or the simulator) does::

    state.submit(item)                  # work became ready
    decision = state.decide(now)        # the policy reads the state; it changes nothing
    state.apply(decision, now)          # ...once the executor accepted the starts
    state.finish(item_id, now)          # work ended

Invariants: an id is either waiting or running, never both; no node is over-committed (a
start that would over-commit raises :class:`PlacementError` and changes nothing); project
usage equals the sum of its running items' demands.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping, Sequence
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from airfoil.core.resources import ResourceSpec
from airfoil.scheduler._capacity import UNLIMITED, Demand, NodePool, demand_of
from airfoil.scheduler._errors import (
    InvalidWorkItemError,
    PlacementError,
    SchedulingError,
    UnknownItemError,
    UnschedulableError,
)
from airfoil.scheduler._estimator import RuntimeEstimator
from airfoil.scheduler._model import (
    Decision,
    Node,
    Quota,
    RunningItem,
    WorkItem,
)
from airfoil.scheduler._reasons import describe_gang, no_room
from airfoil.scheduler._registry import get_policy

if TYPE_CHECKING:
    from airfoil.scheduler._policy import Policy

__all__ = ["QueueKey", "RunningEntry", "SchedulerState", "WaitingEntry"]

QueueKey = tuple[int, int, float, int, str]
"""``(band, -priority, rank, seq, id)``: the queue order; ``seq`` breaks ties."""

_T = TypeVar("_T", bound=tuple[Any, ...])

Shape = tuple[int, int, int, int]
"""``(milli-CPU, bytes, GPUs, workers)``: items of one shape fit or fail alike."""


class WaitingEntry:
    """A queued item with its precomputed demand, sort key and remaining estimate."""

    __slots__ = (
        "demand",
        "done",
        "estimate",
        "item",
        "key",
        "project",
        "rate",
        "reserve_from",
        "shape",
        "workers",
    )

    def __init__(self, item: WorkItem, key: QueueKey, estimate: float, done: float) -> None:
        self.item = item
        self.project = item.project
        self.key = key
        self.demand: Demand = demand_of(item.resources)
        self.workers = item.gang_size
        self.shape: Shape = (*self.demand, self.workers)
        c, _, g = self.demand
        # resource-units per second it consumes (see ``service_rate``)
        self.rate = float(self.workers * (g if g else c / 1000.0))
        self.estimate = estimate
        self.done = done
        self.reserve_from: float | None = None


class RunningEntry:
    """A running item: its waiting entry, node indices, start time and end-order key."""

    __slots__ = ("end_key", "entry", "nodes", "preemptible", "start")

    def __init__(self, entry: WaitingEntry, nodes: tuple[int, ...], start: float) -> None:
        self.entry = entry
        self.nodes = nodes
        self.start = start
        self.end_key = (start + entry.estimate, entry.key[3], entry.item.id)
        due = entry.reserve_from
        # interruptible and not started as due (past its ``reserve_from``): a victim
        self.preemptible = entry.item.interruptible and (due is None or start < due)


def service_rate(entry: WaitingEntry) -> float:
    """Resource-units per second the entry consumes: its GPUs, or its CPU cores if none."""
    return entry.rate


class SchedulerState:
    """Waiting and running work, free capacity and usage, indexed for fast decisions.

    Args:
        nodes: the cluster. Names must be unique.
        policy: a policy or its registered name (see :func:`get_policy`).
        quotas: per-project quotas (see :class:`Quota`).
        estimator: run-time history; a fresh one if omitted.

    The attributes below are for policies and are read-only to everyone else; change the
    state only through the methods.

    Attributes:
        policy: the policy that orders the queue and decides.
        pool: free capacity per node.
        waiting: waiting entries by id.
        order: every waiting key, sorted.
        project_order: each project's waiting keys, sorted.
        reservable: ``(reserve_from, seq, id)`` of waiting items the policy may hold a
            reservation for (see :meth:`Policy.reserve_from`), earliest first, as far as
            the decisions so far have needed them: read it through :meth:`due_reservable`,
            which brings it up to a decision's time (the items not yet due wait in a heap,
            so that queueing one does not shift a sorted list of the whole queue).
        reservable_gangs: how many of those are gangs, per ``(shape, priority)``.
        running: running entries by id.
        due_running: the running entries started as due (at or past their
            ``reserve_from``), in the order of ``running``.
        running_by_end: ``(start + estimate, seq, id)`` of running items, sorted.
        usage: per-project ``[milli-CPU, bytes, GPUs]`` in use.
        shapes: ids of the waiting items of each shape (ordered sets).
        asked_gpus: per service level (``key[0]``), the GPUs its waiting items ask for (per
            worker times workers).
        room_reasons: for every waiting item, the reason it waits when there is no room for
            its shape (kept up to date so explaining a long queue is one dict copy).
        totals: the cluster's total ``(milli-CPU, bytes, GPUs)``.
        gangs_seen, gang_gpu_seconds_seen: how many gangs were submitted to this state, and
            their GPUs x estimate summed, each counted once at submission (history for
            ``AirfoilPolicy.due_gang_scale``).
    """

    def __init__(
        self,
        nodes: Sequence[Node],
        *,
        policy: Policy | str = "airfoil",
        quotas: Mapping[str, Quota] | None = None,
        estimator: RuntimeEstimator | None = None,
    ) -> None:
        names = [node.name for node in nodes]
        if len(set(names)) != len(names):
            raise InvalidWorkItemError(f"node names must be unique, got {names}")
        self.nodes: tuple[Node, ...] = tuple(nodes)
        self.policy: Policy = get_policy(policy) if isinstance(policy, str) else policy
        self.estimator = estimator if estimator is not None else RuntimeEstimator()
        self.pool = NodePool.from_nodes(self.nodes)
        self.totals: Demand = (sum(self.pool.cap_c), sum(self.pool.cap_m), sum(self.pool.cap_g))
        self.largest: Demand = (
            max(self.pool.cap_c, default=0),
            max(self.pool.cap_m, default=0),
            max(self.pool.cap_g, default=0),
        )
        self.waiting: dict[str, WaitingEntry] = {}
        self.order: list[QueueKey] = []
        self.project_order: dict[str, list[QueueKey]] = {}
        self.reservable: list[tuple[float, int, str]] = []
        # reservable items due after ``_horizon`` (the latest time due_reservable was asked
        # for): a heap, and the live tuple of each id (what is withdrawn stays in the heap
        # until popped; identity tells a live tuple from an equal stale one)
        self._later: list[tuple[float, int, str]] = []
        self._later_live: dict[str, tuple[float, int, str]] = {}
        self._horizon = -math.inf
        self.reservable_gangs: dict[tuple[Shape, int], int] = {}
        self.running: dict[str, RunningEntry] = {}
        self.due_running: dict[str, RunningEntry] = {}
        self.running_by_end: list[tuple[float, int, str]] = []
        self.usage: dict[str, list[int]] = {}
        self.shapes: dict[Shape, dict[str, None]] = {}
        self.asked_gpus: dict[int, int] = {}
        self.room_reasons: dict[str, str] = {}
        self._room_text: dict[Shape, str] = {}
        self.quotas: dict[str, Quota] = {}
        self.limits: dict[str, Demand] = {}
        self.nominal: dict[str, Demand] = {}
        self._seq = itertools.count()
        self.draining: set[int] = set()
        self.gangs_seen = 0
        self.gang_gpu_seconds_seen = 0.0
        self.set_quotas(quotas or {})

    # -- configuration -------------------------------------------------------------------

    def set_quotas(self, quotas: Mapping[str, Quota]) -> None:
        """Replace every project's quota. Running work is never stopped by this alone.

        A resource left at zero in a quota's ``nominal`` is not governed by it: neither
        guaranteed nor capped (so ``Quota(ResourceSpec(gpu=2))`` is about GPUs only).
        """
        self.quotas = dict(quotas)
        self.nominal = {}
        self.limits = {}
        for project, quota in self.quotas.items():
            nominal = demand_of(quota.nominal)
            self.nominal[project] = _governed(nominal, nominal)
            if quota.borrowing_limit is not None:
                borrow = demand_of(quota.borrowing_limit)
                cap = (nominal[0] + borrow[0], nominal[1] + borrow[1], nominal[2] + borrow[2])
                self.limits[project] = _governed(nominal, cap)

    def set_nodes(self, nodes: Sequence[Node]) -> None:
        """Replace the cluster's nodes (nodes joined or left); waiting work stays queued.

        Running work keeps its placement. A node that left while work still runs on it is
        kept, *draining*: its capacity is what that work holds and shrinks as it ends, so
        nothing new is ever placed there; it is dropped at the next call once it is empty.
        A node given again under the same name keeps what runs on it. Waiting items that no
        node could hold any more stay queued (a node that can may join).

        Raises:
            InvalidWorkItemError: node names are not unique.
        """
        names = [node.name for node in nodes]
        if len(set(names)) != len(names):
            raise InvalidWorkItemError(f"node names must be unique, got {names}")
        old = self.pool.names
        held: dict[str, list[int]] = {}
        for run in self.running.values():
            c, m, g = run.entry.demand
            for n in run.nodes:
                h = held.setdefault(old[n], [0, 0, 0])
                h[0] += c
                h[1] += m
                h[2] += g
        kept: list[Node] = []
        for node in nodes:
            c, m, g = demand_of(node.capacity)
            h = held.get(node.name, [0, 0, 0])
            if c < h[0] or m < h[1] or g < h[2]:  # never below what runs there
                cap = ResourceSpec(cpu=max(c, h[0]) / 1000.0, mem=max(m, h[1]), gpu=max(g, h[2]))
                node = Node(node.name, cap)
            kept.append(node)
        given = set(names)
        gone = [n for n in held if n not in given]
        for name in gone:
            c, m, g = held[name]
            kept.append(Node(name, ResourceSpec(cpu=c / 1000.0, mem=m, gpu=g)))
        pool = NodePool.from_nodes(kept)
        for run in self.running.values():
            run.nodes = tuple(pool.index[old[n]] for n in run.nodes)
            c, m, g = run.entry.demand
            for n in run.nodes:
                pool.take(n, c, m, g)
        self.nodes = tuple(kept)
        self.pool = pool
        self.draining = {pool.index[name] for name in gone}
        self.totals = (sum(pool.cap_c), sum(pool.cap_m), sum(pool.cap_g))
        self.largest = (
            max(pool.cap_c, default=0),
            max(pool.cap_m, default=0),
            max(pool.cap_g, default=0),
        )
        self._room_text.clear()
        entries = [self.waiting[key[4]] for key in self.order]
        for entry in entries:  # reservations and reasons depend on the nodes
            self._dequeue(entry)
        for entry in entries:
            self._enqueue(entry)

    def weight(self, project: str) -> float:
        """The fair-share weight of ``project`` (1 without a quota)."""
        quota = self.quotas.get(project)
        return quota.weight if quota is not None and quota.weight > 0 else 1.0

    # -- events ----------------------------------------------------------------------------

    def check(self, item: WorkItem) -> None:
        """Raise if ``item`` is malformed or could never start here; queue nothing.

        The engine calls this when a task is launched, so a request larger than the cluster
        (or than its project's cap) fails at once instead of waiting forever.

        Raises:
            InvalidWorkItemError: the item is malformed.
            UnschedulableError: the item could never fit the cluster or its project's cap.
        """
        _validate(item)
        demand = demand_of(item.resources)
        if not self.pool.can_ever_fit(demand, item.gang_size):
            raise UnschedulableError(
                f"{item.id!r} asks for {describe_gang(demand, item.gang_size)}, more than "
                f"the cluster of {len(self.nodes)} nodes could ever give: it would wait forever"
            )
        cap = self.limits.get(item.project)
        if cap is not None and any(
            d * item.gang_size > c for d, c in zip(demand, cap, strict=True)
        ):
            raise UnschedulableError(
                f"{item.id!r} asks for more than project {item.project!r} may ever use "
                "(its quota plus borrowing limit)"
            )

    def submit(self, item: WorkItem) -> None:
        """Queue ``item``.

        Raises:
            InvalidWorkItemError: the id is already known, or the item is malformed.
            UnschedulableError: the item could never fit the cluster or its project's cap.
        """
        if item.id in self.waiting or item.id in self.running:
            raise InvalidWorkItemError(f"work item {item.id!r} is already queued or running")
        self.check(item)
        estimate = self.estimator.estimate(item.task_key, item.estimate)
        entry = WaitingEntry(item, self._key(item, estimate, next(self._seq)), estimate, 0.0)
        if entry.workers > 1:
            self.gangs_seen += 1
            self.gang_gpu_seconds_seen += entry.demand[2] * entry.workers * estimate
        self._enqueue(entry)

    def withdraw(self, item_id: str) -> WorkItem:
        """Remove a waiting item (cancelled) and return it.

        Raises:
            UnknownItemError: nothing waits under ``item_id``.
        """
        return self._dequeue(self._waiting_entry(item_id)).item

    def start(self, item_id: str, placement: Sequence[str], now: float) -> None:
        """Mark a waiting item as running on ``placement`` (a node name per worker).

        Raises:
            UnknownItemError: nothing waits under ``item_id``.
            PlacementError: wrong worker count, unknown node, or the node lacks room.
        """
        entry = self._waiting_entry(item_id)
        if len(placement) != entry.workers:
            raise PlacementError(
                f"{item_id!r} has {entry.workers} workers but the placement names "
                f"{len(placement)} nodes"
            )
        try:
            nodes = tuple(self.pool.index[name] for name in placement)
        except KeyError as exc:
            raise PlacementError(f"{item_id!r} placed on unknown node {exc.args[0]!r}") from None
        c, m, g = entry.demand
        taken: list[int] = []
        for n in nodes:
            if not self.pool.fits_on(n, c, m, g):
                for done in taken:
                    self.pool.give(done, c, m, g)
                raise PlacementError(
                    f"{item_id!r} does not fit on node {self.pool.names[n]!r}: it would be "
                    "over-committed"
                )
            self.pool.take(n, c, m, g)
            taken.append(n)
        self._dequeue(entry)
        run = RunningEntry(entry, nodes, now)
        self.running[item_id] = run
        if entry.reserve_from is not None and now >= entry.reserve_from:
            self.due_running[item_id] = run
        insort(self.running_by_end, run.end_key)
        usage = self.usage.setdefault(entry.project, [0, 0, 0])
        k = entry.workers
        usage[0] += c * k
        usage[1] += m * k
        usage[2] += g * k

    def finish(self, item_id: str, now: float, *, succeeded: bool = True) -> WorkItem:
        """Release a running item's resources. A success feeds the run-time history.

        Raises:
            UnknownItemError: nothing runs under ``item_id``.
        """
        run = self._release(item_id)
        entry = run.entry
        if succeeded and entry.item.task_key is not None:
            self.estimator.record(entry.item.task_key, entry.done + (now - run.start))
        return entry.item

    def preempt(self, item_id: str, now: float) -> WorkItem:
        """Stop a running interruptible item and queue it again at its old place.

        Its ``attained`` service grows by what this attempt received, its ``preempted``
        count by one, and its remaining estimate shrinks by the time it ran.

        Returns:
            The re-queued item (with the updated ``attained`` and ``preempted``).

        Raises:
            UnknownItemError: nothing runs under ``item_id``.
            SchedulingError: the item is not interruptible.
        """
        run = self.running.get(item_id)
        if run is None:
            raise UnknownItemError(f"no running work item {item_id!r}")
        if not run.entry.item.interruptible:
            raise SchedulingError(f"{item_id!r} is not interruptible and cannot be preempted")
        self._release(item_id)
        old = run.entry
        ran = max(now - run.start, 0.0)
        item = msgspec.structs.replace(
            old.item,
            attained=old.item.attained + ran * service_rate(old),
            preempted=old.item.preempted + 1,
        )
        estimate = max(old.estimate - ran, 0.0)
        key = self._key(item, estimate, old.key[3])
        self._enqueue(WaitingEntry(item, key, estimate, old.done + ran))
        return item

    def apply(self, decision: Decision, now: float) -> None:
        """Apply a whole decision: its preemptions, then its starts."""
        for item_id in decision.preemptions:
            self.preempt(item_id, now)
        for start in decision.starts:
            self.start(start.item_id, start.placement, now)

    def decide(self, now: float, *, explain: bool = True) -> Decision:
        """Ask the policy what to start and preempt now. Changes nothing.

        Args:
            now: the current time.
            explain: fill ``Decision.reasons`` for every waiting item (costs a little).
        """
        return self.policy.decide(self, now, explain=explain)

    # -- read-only views --------------------------------------------------------------------

    def waiting_items(self) -> list[WorkItem]:
        """Waiting items in queue order."""
        return [self.waiting[key[4]].item for key in self.order]

    def running_items(self) -> list[RunningItem]:
        """Running items with their placements."""
        names = self.pool.names
        return [
            RunningItem(run.entry.item, tuple(names[n] for n in run.nodes), run.start)
            for run in self.running.values()
        ]

    def project_usage(self, project: str) -> ResourceSpec:
        """What ``project`` uses now."""
        c, m, g = self.usage.get(project, (0, 0, 0))
        return ResourceSpec(cpu=c / 1000.0, mem=m, gpu=g)

    def free(self) -> dict[str, ResourceSpec]:
        """Free resources per node name."""
        pool = self.pool
        return {
            name: ResourceSpec(cpu=pool.free_c[i] / 1000.0, mem=pool.free_m[i], gpu=pool.free_g[i])
            for i, name in enumerate(pool.names)
        }

    def room_reason(self, shape: Shape) -> str:
        """Why items of ``shape`` wait when they do not fit (cached per shape)."""
        text = self._room_text.get(shape)
        if text is None:
            text = self._room_text[shape] = no_room((shape[0], shape[1], shape[2]), shape[3])
        return text

    def remaining_estimate(self, item_id: str) -> float:
        """The remaining run-time estimate of a waiting or running item, in seconds."""
        entry = self.waiting.get(item_id)
        if entry is None:
            run = self.running.get(item_id)
            if run is None:
                raise UnknownItemError(f"no work item {item_id!r}")
            entry = run.entry
        return entry.estimate

    # -- internals ---------------------------------------------------------------------------

    def _key(self, item: WorkItem, estimate: float, seq: int) -> QueueKey:
        policy = self.policy
        return (policy.band(item), -item.priority, policy.rank(item, estimate), seq, item.id)

    def _enqueue(self, entry: WaitingEntry) -> None:
        self.waiting[entry.item.id] = entry
        insort(self.order, entry.key)
        insort(self.project_order.setdefault(entry.project, []), entry.key)
        entry.reserve_from = self.policy.reserve_from(
            entry.item, entry.estimate, _node_share(entry.demand, self.largest)
        )
        if entry.reserve_from is not None:
            due = (entry.reserve_from, entry.key[3], entry.item.id)
            if entry.reserve_from <= self._horizon:
                insort(self.reservable, due)
            else:
                self._later_live[entry.item.id] = due
                heappush(self._later, due)
            if entry.workers > 1:
                gang = (entry.shape, entry.item.priority)
                self.reservable_gangs[gang] = self.reservable_gangs.get(gang, 0) + 1
        same = self.shapes.get(entry.shape)
        if same is None:
            same = self.shapes[entry.shape] = {}
        same[entry.item.id] = None
        self.room_reasons[entry.item.id] = self.room_reason(entry.shape)
        level = entry.key[0]
        self.asked_gpus[level] = self.asked_gpus.get(level, 0) + entry.demand[2] * entry.workers

    def due_reservable(self, now: float) -> list[tuple[float, int, str]]:
        """:attr:`reservable` with every item due by ``now`` in it, earliest first.

        It may hold items due later too (when an earlier call asked for a later time); any
        item missing from it is due after all those in it (see :meth:`next_reservable`).
        """
        if now > self._horizon:
            later, live, reservable = self._later, self._later_live, self.reservable
            while later and later[0][0] <= now:
                due = heappop(later)
                if live.get(due[2]) is due:
                    del live[due[2]]
                    insort(reservable, due)
            self._horizon = now
        return self.reservable

    def next_reservable(self) -> float | None:
        """When the first reservable item missing from :attr:`reservable` is due (``None``:
        there is none)."""
        later, live = self._later, self._later_live
        while later and live.get(later[0][2]) is not later[0]:
            heappop(later)
        return later[0][0] if later else None

    def _dequeue(self, entry: WaitingEntry) -> WaitingEntry:
        del self.waiting[entry.item.id]
        _remove(self.order, entry.key)
        queue = self.project_order[entry.project]
        _remove(queue, entry.key)
        if not queue:
            del self.project_order[entry.project]
        if entry.reserve_from is not None:
            if entry.reserve_from <= self._horizon:
                _remove(self.reservable, (entry.reserve_from, entry.key[3], entry.item.id))
            else:
                del self._later_live[entry.item.id]
                if len(self._later) > 2 * len(self._later_live) + 64:
                    self._later = list(self._later_live.values())
                    heapify(self._later)
            if entry.workers > 1:
                gang = (entry.shape, entry.item.priority)
                left = self.reservable_gangs[gang] - 1
                if left:
                    self.reservable_gangs[gang] = left
                else:
                    del self.reservable_gangs[gang]
        same = self.shapes[entry.shape]
        del same[entry.item.id]
        del self.room_reasons[entry.item.id]
        self.asked_gpus[entry.key[0]] -= entry.demand[2] * entry.workers  # (levels are few)
        if not same:
            del self.shapes[entry.shape]
        return entry

    def _waiting_entry(self, item_id: str) -> WaitingEntry:
        entry = self.waiting.get(item_id)
        if entry is None:
            raise UnknownItemError(f"no waiting work item {item_id!r}")
        return entry

    def _release(self, item_id: str) -> RunningEntry:
        run = self.running.pop(item_id, None)
        if run is None:
            raise UnknownItemError(f"no running work item {item_id!r}")
        self.due_running.pop(item_id, None)
        _remove(self.running_by_end, run.end_key)
        c, m, g = run.entry.demand
        for n in run.nodes:
            if n in self.draining:
                self.pool.shrink(n, c, m, g)  # a node that left: nothing new goes there
            else:
                self.pool.give(n, c, m, g)
        usage = self.usage[run.entry.project]
        k = run.entry.workers
        usage[0] -= c * k
        usage[1] -= m * k
        usage[2] -= g * k
        if not any(usage):
            del self.usage[run.entry.project]
        return run


def build_state(
    nodes: Sequence[Node],
    queue: Iterable[WorkItem],
    running: Iterable[RunningItem],
    *,
    policy: Policy | str = "airfoil",
    quotas: Mapping[str, Quota] | None = None,
    estimator: RuntimeEstimator | None = None,
) -> SchedulerState:
    """A state holding ``running`` (placed as given) and ``queue``."""
    state = SchedulerState(nodes, policy=policy, quotas=quotas, estimator=estimator)
    for run in running:
        state.submit(run.item)
        state.start(run.item.id, run.placement, run.start_time)
    for item in queue:
        state.submit(item)
    return state


def _remove(sorted_list: list[_T], key: _T) -> None:
    i = bisect_left(sorted_list, key)
    if i < len(sorted_list) and sorted_list[i] == key:
        del sorted_list[i]
    else:  # pragma: no cover - an invariant, not an input error
        raise SchedulingError(f"scheduler index lost {key!r}")


def _governed(nominal: Demand, amounts: Demand) -> Demand:
    """``amounts`` where the quota names a resource, no limit where it does not."""
    c, m, g = (a if n > 0 else UNLIMITED for n, a in zip(nominal, amounts, strict=True))
    return (c, m, g)


def _node_share(demand: Demand, largest: Demand) -> float:
    return max((d / cap for d, cap in zip(demand, largest, strict=True) if cap), default=0.0)


def _validate(item: WorkItem) -> None:
    res = item.resources
    if item.gang_size < 1:
        raise InvalidWorkItemError(f"{item.id!r}: gang_size must be at least 1")
    if res.cpu < 0 or res.mem < 0 or res.gpu < 0:
        raise InvalidWorkItemError(f"{item.id!r}: resources must not be negative")
    if item.estimate is not None and item.estimate < 0:
        raise InvalidWorkItemError(f"{item.id!r}: estimate must not be negative")
    if item.preempted < 0:
        raise InvalidWorkItemError(
            f"{item.id!r}: preempted (how many times it was preempted) must not be negative, "
            f"got {item.preempted}"
        )
