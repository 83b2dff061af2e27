"""Admission of queued attempts: which may start now, within the executor's capacity.

FIFO in queue order, bounded by the executor's parallelism and by the CPU / memory / GPU
requests of running attempts against the executor's capacity. (The fair, gang-aware policy
of ``airfoil.scheduler`` plugs in here.)
"""

from __future__ import annotations

from collections import OrderedDict

from airfoil.core.resources import ResourceSpec
from airfoil.engine.state import RunState
from airfoil.executors.base import Executor

__all__ = ["Admission"]


class Admission:
    """Tracks queued and running attempts of one drive."""

    def __init__(self, executor: Executor, max_parallel: int | None) -> None:
        self.executor = executor
        self.limit = max(1, max_parallel or executor.max_parallel())
        # Map items on the inline executor run one after another inside submit(); admitting
        # many at once lets one store write cover a whole batch of them.
        self.item_limit = 256 if executor.name == "inline" else self.limit
        self.capacity = executor.capacity()
        self.queue: OrderedDict[str, ResourceSpec] = OrderedDict()
        self.in_use: dict[str, ResourceSpec] = {}

    @property
    def running(self) -> int:
        return len(self.in_use)

    def enqueue(self, node_id: str, state: RunState) -> None:
        task = state.task_of(node_id)
        self.queue[node_id] = task.requests if task is not None else ResourceSpec()

    def release(self, node_id: str) -> None:
        self.in_use.pop(node_id, None)

    def admit(self, state: RunState) -> list[str]:
        if not self.queue:
            return []
        started: list[str] = []
        cpu = sum(r.cpu for r in self.in_use.values())
        mem = sum(r.mem for r in self.in_use.values())
        gpu = sum(r.gpu for r in self.in_use.values())
        cap = self.capacity
        for node_id, req in self.queue.items():  # no copy: the queue can hold a map's window
            limit = self.item_limit if node_id.endswith("]") else self.limit
            if len(self.in_use) + len(started) >= limit:
                break
            if (self.in_use or started) and (
                cpu + req.cpu > cap.cpu or mem + req.mem > cap.mem or gpu + req.gpu > cap.gpu
            ):
                continue
            cpu, mem, gpu = cpu + req.cpu, mem + req.mem, gpu + req.gpu
            started.append(node_id)
        for node_id in started:
            self.in_use[node_id] = self.queue.pop(node_id)
        return started
