"""The records the scheduler reads and returns.

Everything here is a frozen msgspec struct, so the engine can persist or send them as they
are. Resources are :class:`airfoil.core.resources.ResourceSpec` (CPU cores, memory bytes,
whole GPUs); a work item's resources are *per worker*, and a gang of ``gang_size`` workers
needs all of them placed at once, each worker on one node.
"""

from __future__ import annotations

import msgspec

from airfoil.core.resources import ResourceSpec

__all__ = [
    "Decision",
    "Node",
    "Quota",
    "RunningItem",
    "Start",
    "WorkItem",
]


class Node(msgspec.Struct, frozen=True):
    """A machine work can be placed on.

    Attributes:
        name: unique name, used in placements.
        capacity: what the node offers in total.
    """

    name: str
    capacity: ResourceSpec


class WorkItem(msgspec.Struct, frozen=True):
    """One unit of work waiting to run (for the engine: an attempt).

    Attributes:
        id: unique id (the attempt id).
        project: the project (tenant) it is charged to; quotas and fair share are per project.
        resources: what *each worker* needs.
        gang_size: number of workers; they all start together or none does.
        priority: higher runs first among the same project's (and, for FIFO policies, among
            all) waiting work.
        interruptible: whether it may be preempted (stopped and queued again).
        submit_time: when it first became ready to run, in the scheduler's clock (seconds).
        estimate: the caller's run-time estimate in seconds, if any. The
            :class:`~airfoil.scheduler.RuntimeEstimator` prefers the history of ``task_key``.
        task_key: identifies "the same task" across runs, for run-time history.
        attained: service already received in earlier attempts, in resource-seconds
            (GPU-seconds for GPU work, CPU-seconds otherwise), summed over workers. The
            scheduler updates it when it preempts the item; LAS orders by it.
        prefer: nodes to place a one-worker item on if one has room, best first (they hold
            its inputs already: data locality). Soft: with no room on them it goes wherever
            best fit puts it, never waiting for them.
        preempted: how many times the scheduler preempted it (its earlier attempts). The
            scheduler counts it when it preempts the item, as it does ``attained``.
    """

    id: str
    project: str
    resources: ResourceSpec
    gang_size: int = 1
    priority: int = 0
    interruptible: bool = False
    submit_time: float = 0.0
    estimate: float | None = None
    task_key: str | None = None
    attained: float = 0.0
    prefer: tuple[str, ...] = ()
    preempted: int = 0


class RunningItem(msgspec.Struct, frozen=True):
    """A work item that holds resources now.

    Attributes:
        item: the item.
        placement: node name of each worker, ``len(placement) == item.gang_size``.
        start_time: when this attempt started.
    """

    item: WorkItem
    placement: tuple[str, ...]
    start_time: float


class Quota(msgspec.Struct, frozen=True):
    """A project's share of the cluster.

    ``nominal`` is guaranteed: policies with reclaim (``fair``, ``airfoil``) preempt borrowed
    interruptible work of other projects to give it back. Above ``nominal`` a project borrows
    idle capacity, up to ``borrowing_limit`` more (``None``: any idle capacity; a zero
    ``ResourceSpec()``: no borrowing, so ``nominal`` is a hard cap). Every policy enforces the
    cap ``nominal + borrowing_limit``. A resource left at zero in ``nominal`` is not governed
    by the quota at all (``Quota(ResourceSpec(gpu=2))`` guarantees and caps GPUs only); a
    project without a :class:`Quota` has no cap and no guarantee.

    Attributes:
        nominal: guaranteed resources.
        borrowing_limit: how much above ``nominal`` it may use, or ``None`` for no limit.
        weight: fair-share weight; a project with weight 2 is entitled to twice the share.
    """

    nominal: ResourceSpec
    borrowing_limit: ResourceSpec | None = None
    weight: float = 1.0


class Start(msgspec.Struct, frozen=True):
    """Start this item now, worker ``i`` on node ``placement[i]``."""

    item_id: str
    placement: tuple[str, ...]


class Decision(msgspec.Struct, frozen=True):
    """What a policy decided at one instant.

    Apply ``preemptions`` before ``starts``: the starts may use resources the preemptions free.

    Attributes:
        starts: items to start, with their placement.
        preemptions: ids of running (interruptible) items to stop and queue again.
        reasons: for each item still waiting, why, in words (for ``airfoil queue``). Empty when
            the policy was asked not to explain.
        wake_at: call ``decide`` again at this time even if nothing else happens (an item's
            wait crosses a threshold, a running item's service crosses a level), or ``None``.
    """

    starts: tuple[Start, ...] = ()
    preemptions: tuple[str, ...] = ()
    reasons: dict[str, str] = {}
    wake_at: float | None = None
