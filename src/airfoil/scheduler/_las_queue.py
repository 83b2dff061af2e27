"""The order and the queue measure of ``airfoil``'s least-attained-service pass.

:func:`fair_order` is the pass's order when quotas are set (levels, then dominant-resource
fairness between projects); :func:`asks_at_least` is the bar of ``srpt_queue`` (preempt
within the last level only behind a long enough queue).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airfoil.scheduler._round import Round
    from airfoil.scheduler._state import QueueKey, SchedulerState

__all__ = ["asks_at_least", "fair_order"]


def asks_at_least(state: SchedulerState, served: set[str], level: int, bar: float) -> bool:
    """Whether the waiting items of ``level`` and above, less those in ``served`` (the due
    pass's), ask for at least ``bar`` GPUs.

    What the state keeps per level, less what the due pass served: a walk of the queue
    stopping once the bar is reached concludes the same, the terms being >= 0."""
    asked = sum(gpus for at, gpus in state.asked_gpus.items() if at >= level)
    if asked >= bar:
        waiting = state.waiting
        for item_id in served:
            e = waiting.get(item_id)
            if e is not None and e.key[0] >= level:
                asked -= e.demand[2] * e.workers
    return asked >= bar


def fair_order(rnd: Round, skip: set[str]) -> Iterator[QueueKey]:
    """The waiting keys by level, then priority, then the project with the lowest share.

    Dominant-resource fairness between projects within a level and priority: each time, the
    next item comes from the project whose weighted dominant share is lowest *now* (counting
    what this round started before), and within a project, in queue order. Levels never go
    down from one key to the next, since each project's queue is sorted by level first.
    """
    orders = rnd.state.project_order
    heap: list[tuple[int, int, float, str]] = []
    cursor: dict[str, int] = {}
    for project, queue in orders.items():
        i = _next_unskipped(queue, 0, skip)
        if i < len(queue):
            cursor[project] = i
            heap.append((queue[i][0], queue[i][1], rnd.share(project), project))
    heapq.heapify(heap)
    while heap:
        project = heapq.heappop(heap)[3]
        queue = orders[project]
        i = cursor[project]
        yield queue[i]
        i = _next_unskipped(queue, i + 1, skip)
        if i < len(queue):
            cursor[project] = i
            heapq.heappush(heap, (queue[i][0], queue[i][1], rnd.share(project), project))


def _next_unskipped(queue: list[QueueKey], i: int, skip: set[str]) -> int:
    while i < len(queue) and queue[i][4] in skip:
        i += 1
    return i
