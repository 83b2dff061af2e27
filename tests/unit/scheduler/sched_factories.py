"""Small builders for scheduler tests: nodes, items, running work, states."""

from __future__ import annotations

from collections.abc import Sequence

from airfoil.core.resources import ResourceSpec
from airfoil.scheduler import Node, Policy, Quota, RunningItem, SchedulerState, WorkItem
from airfoil.scheduler._state import build_state

GIB = 2**30


def gpu_node(name: str, gpus: int = 8, cpu: float = 64.0, mem_gib: int = 512) -> Node:
    return Node(name, ResourceSpec(cpu=cpu, mem=mem_gib * GIB, gpu=gpus))


def gpus(
    item_id: str,
    n: int,
    *,
    project: str = "p",
    gang: int = 1,
    submit: float = 0.0,
    estimate: float | None = None,
    priority: int = 0,
    interruptible: bool = False,
    attained: float = 0.0,
    cpu: float = 1.0,
) -> WorkItem:
    """An item asking ``n`` GPUs (and ``cpu`` CPUs) per worker."""
    return WorkItem(
        id=item_id,
        project=project,
        resources=ResourceSpec(cpu=cpu, mem=GIB, gpu=n),
        gang_size=gang,
        priority=priority,
        interruptible=interruptible,
        submit_time=submit,
        estimate=estimate,
        attained=attained,
    )


def running(item: WorkItem, *placement: str, start: float = 0.0) -> RunningItem:
    return RunningItem(item, tuple(placement), start)


def gpu_quota(nominal: int, borrow: int | None = None, weight: float = 1.0) -> Quota:
    """A quota that only limits GPUs (CPU and memory nominal are plentiful)."""
    plenty = ResourceSpec(cpu=1e6, mem=2**60, gpu=nominal)
    limit = None if borrow is None else ResourceSpec(cpu=0.0, mem=0, gpu=borrow)
    return Quota(nominal=plenty, borrowing_limit=limit, weight=weight)


def make_state(
    nodes: Sequence[Node],
    policy: Policy | str,
    *,
    run: Sequence[RunningItem] = (),
    queue: Sequence[WorkItem] = (),
    quotas: dict[str, Quota] | None = None,
) -> SchedulerState:
    return build_state(nodes, queue, run, policy=policy, quotas=quotas)


def starts(decision: object) -> list[tuple[str, tuple[str, ...]]]:
    return [(s.item_id, s.placement) for s in decision.starts]  # type: ignore[attr-defined]
