"""Admission of queued attempts for one drive: which may start now.

Two kinds of attempt requests:

- a task that asks for CPUs, memory or GPUs goes through the process-wide
  :class:`~airfoil.engine._resources.ResourceQueue`: the scheduling policy decides, across
  every execution this process drives, what starts (and on which GPUs) and what is preempted;
- a task that asks for nothing is started in queue order, bounded only by the executor's
  parallelism (no policy decision is needed, which keeps small tasks fast).

Both are bounded by the executor's parallelism: a start the policy granted while every
worker of this drive is busy is held (its resources stay reserved) until one is free. An
executor that decides as it goes how many attempts a drive may have out
(:meth:`~airfoil.executors.base.Executor.max_out`: a slot's view of a server's shared worker
pool) is asked at each admission that has something to start; ``max_parallel``, if given,
then caps what it answers.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from airfoil.engine._requests import asks_for_resources
from airfoil.engine.state import RunState
from airfoil.executors.base import Executor

if TYPE_CHECKING:
    from airfoil.core.records import TaskSpec
    from airfoil.engine._resources import AdmissionQueue

__all__ = ["Admission"]


class Admission:
    """Tracks queued and running attempts of one drive.

    Args:
        executor: the drive's executor (its parallelism bounds the starts).
        max_parallel: a bound of its own, if given: instead of the executor's parallelism,
            or, where the executor decides the attempts out as it goes (``max_out``), a cap
            on what it answers.
        queue: gives the process-wide resource queue, asked only when a resource-asking
            attempt is enqueued (a drive of tasks that ask for nothing never builds it).
        execution_id / project: the execution being driven.
    """

    def __init__(
        self,
        executor: Executor,
        max_parallel: int | None,
        queue: Callable[[], AdmissionQueue],
        execution_id: str,
        project: str,
    ) -> None:
        self.executor = executor
        self.limit = max(1, max_parallel or executor.max_parallel())
        self.cap = max_parallel
        #: whether the executor answers ``max_out`` (None: not asked yet; most never do)
        self.adaptive: bool | None = None
        self._queue_of = queue
        self._queue: AdmissionQueue | None = None
        self.execution_id = execution_id
        self.project = project
        self.local: OrderedDict[str, None] = OrderedDict()
        self.granted: deque[str] = deque()
        self.shared: set[str] = set()
        self.in_use: set[str] = set()
        self.preempted: list[str] = []
        self.used_queue = False

    @property
    def queue(self) -> AdmissionQueue:
        """The resource queue (asked for on first use)."""
        if self._queue is None:
            self._queue = self._queue_of()
        return self._queue

    @property
    def running(self) -> int:
        return len(self.in_use)

    @property
    def waiting_on_policy(self) -> bool:
        """Whether some request waits for, or runs under, the policy: then the loop must look
        again soon (another execution's attempt ending in this process can let a request
        start, another's request can preempt a running one)."""
        return bool(self.shared or self.granted)

    def enqueue(self, node_id: str, state: RunState) -> None:
        task = state.task_of(node_id)
        if task is not None and asks_for_resources(task):
            self.shared.add(node_id)
            self.used_queue = True
            self._submit(node_id, task, state)
        else:
            self.local[node_id] = None

    def _submit(self, node_id: str, task: TaskSpec, state: RunState) -> None:
        """Queue the node's attempt with the cluster nodes its executor prefers for its inputs."""
        prefer = self.executor.preferred_nodes(state.inputs_of(node_id))
        self.queue.submit(self.execution_id, node_id, self.project, task, prefer=prefer)

    def release(
        self,
        node_id: str,
        *,
        succeeded: bool = False,
        attempt: int = 0,
        duration: float | None = None,
    ) -> None:
        """The node's attempt ended, was cancelled, or will not start."""
        self.in_use.discard(node_id)
        if node_id in self.shared:
            self.shared.discard(node_id)
            self.queue.finish(
                self.execution_id,
                node_id,
                succeeded=succeeded,
                attempt=attempt,
                duration=duration,
            )

    def suspend(self, node_id: str) -> bool:
        """A running attempt waits on its child calls: free its place in the drive's
        parallelism (its policy resources stay held). Whether it held one."""
        if node_id in self.in_use:
            self.in_use.discard(node_id)
            return True
        return False

    def resume(self, node_id: str) -> None:
        """A suspended attempt runs on: it takes its place again."""
        self.in_use.add(node_id)

    def take_preempted(self) -> list[str]:
        """Running nodes the policy preempted (their resources are already given to
        others): the loop stops them and reports them preempted."""
        out, self.preempted = self.preempted, []
        return out

    def current_limit(self) -> int:
        """How many attempts may be out now: :attr:`limit`, or what an executor that decides
        it as it goes answers (capped by ``max_parallel``, at least 1)."""
        if self.adaptive is False:
            return self.limit
        out = self.executor.max_out()
        self.adaptive = out is not None
        n = out or self.limit
        if self.cap:
            n = min(n, self.cap)
        return max(1, n)

    def admit(self, state: RunState) -> list[str]:
        """Nodes to start now (and, in :attr:`preempted`, running nodes to stop)."""
        started: list[str] = []
        if not self.shared and not self.local:
            return started
        limit = self.current_limit()
        if self.shared:
            self.queue.decide()
            granted, preempted = self.queue.take(self.execution_id)
            self.granted.extend(granted)
            for node_id in preempted:
                if node_id in self.in_use:
                    self.in_use.discard(node_id)
                    self.shared.discard(node_id)
                    self.preempted.append(node_id)
                elif node_id in self.granted:  # granted, then taken back before it started
                    self.granted.remove(node_id)
                    task = state.task_of(node_id)
                    assert task is not None
                    self._submit(node_id, task, state)
            while self.granted:
                if len(self.in_use) + len(started) >= limit:
                    break
                started.append(self.granted.popleft())
        for node_id in self.local:  # no copy: the queue can hold a map's window
            if len(self.in_use) + len(started) >= limit:
                break
            started.append(node_id)
        for node_id in started:
            self.local.pop(node_id, None)
            self.in_use.add(node_id)
        return started

    def gpus_of(self, node_id: str) -> tuple[str, ...]:
        """The GPU indices the node's running attempt was placed on."""
        if node_id not in self.shared:
            return ()
        return self.queue.gpus_of(self.execution_id, node_id)

    def placement_of(self, node_id: str) -> tuple[str, ...]:
        """The cluster nodes the node's running attempt was placed on (one per worker)."""
        if node_id not in self.shared:
            return ()
        return self.queue.placement_of(self.execution_id, node_id)

    def close(self) -> None:
        """The drive ended: give back whatever it still holds or waits for."""
        if self.used_queue:
            self.queue.forget(self.execution_id)
        self.shared.clear()
        self.granted.clear()
