"""The scheduling store: project quotas and priorities, the admission queue's snapshot, and
run-time history of tasks.

:class:`SchedulingStore` is a small abstract class that the metadata stores also inherit
(:class:`~airfoil.store.memory.MemoryMetaStore`, :class:`~airfoil.store.sql.SqlMetaStore`),
so the engine's admission layer and ``airfoil quotas`` / ``airfoil queue`` work on whatever
store the engine uses. Backends pass the shared suite in
:mod:`airfoil.testing.scheduling_conformance`.

Invariants every backend keeps:

- A quota is keyed by its project; ``put_quota`` replaces the whole row. Quotas are listed
  by project name.
- A queue snapshot is keyed by its ``owner`` (one admitting process); ``put_queue_snapshot``
  replaces it whole, so a reader never sees half of one. Snapshots are listed by owner.
- Task run times are keyed by ``(execution_id, node_id, attempt)`` (recording one twice keeps
  one row); :meth:`SchedulingStore.task_runtimes` returns the newest first.
"""

from __future__ import annotations

import abc

import msgspec

from airfoil.core.cluster import ClusterNode
from airfoil.core.resources import ResourceSpec

__all__ = ["NodeUsage", "ProjectQuota", "QueueSnapshot", "QueuedItem", "SchedulingStore"]


class ProjectQuota(msgspec.Struct, frozen=True, omit_defaults=True):
    """A project's quota and priority, as ``airfoil quotas set`` stores it.

    Attributes:
        project: the project.
        cpu / mem / gpu: the guaranteed (nominal) CPU cores, memory bytes and GPUs; a zero
            amount is not governed by the quota (neither guaranteed nor capped).
        priority: added to the priority of every attempt of the project (higher goes first
            within the project's queue, and for FIFO policies across projects).
        weight: the fair-share weight (2: entitled to twice the share of weight 1).
        borrow: whether the project may use idle capacity above its quota; without borrowing
            the quota is a hard cap.
        updated_at: when it was last set (epoch seconds).
    """

    project: str
    cpu: float = 0.0
    mem: int = 0
    gpu: int = 0
    priority: int = 0
    weight: float = 1.0
    borrow: bool = True
    updated_at: float = 0.0

    @property
    def nominal(self) -> ResourceSpec:
        """The guaranteed resources."""
        return ResourceSpec(cpu=self.cpu, mem=self.mem, gpu=self.gpu)


class QueuedItem(msgspec.Struct, frozen=True, omit_defaults=True):
    """One attempt request the admission layer holds: waiting (with why) or running.

    Attributes:
        execution_id / node_id: the node whose next attempt it is.
        project: the project it is charged to.
        task: the task's name.
        requests: what it asked for.
        priority: its priority.
        interruptible: whether it may be preempted.
        submit_time: when it became ready to run (epoch seconds).
        state: ``waiting`` or ``running``.
        reason: why it waits, in words (empty when running).
        gpus: the GPU indices it was placed on (running only).
        estimate: its run-time estimate, seconds.
        placement: the cluster node of each worker (running on a cluster only).
        workers: how many workers it has (a training gang: more than one; ``requests`` is
            then per worker).
    """

    execution_id: str
    node_id: str
    project: str
    task: str
    requests: ResourceSpec
    state: str
    submit_time: float
    priority: int = 0
    interruptible: bool = False
    reason: str = ""
    gpus: tuple[str, ...] = ()
    estimate: float = 0.0
    placement: tuple[str, ...] = ()
    workers: int = 1


class NodeUsage(msgspec.Struct, frozen=True, omit_defaults=True):
    """A cluster node in a queue snapshot: what it has, what of it is held, what runs there.

    Attributes:
        node: the node as its cluster reports it (a node that left is ``alive=False``).
        used: what running attempts hold on it (as the policy placed them).
        running: ``execution/node`` of each attempt running there.
    """

    node: ClusterNode
    used: ResourceSpec = ResourceSpec()
    running: tuple[str, ...] = ()


class QueueSnapshot(msgspec.Struct, frozen=True, omit_defaults=True):
    """What one admitting process holds, as of ``updated_at``.

    Attributes:
        owner: the process (``host:pid:nonce``).
        updated_at: when it was written (epoch seconds).
        policy: the scheduling policy in use.
        capacity: the capacity it admits against.
        items: waiting items in queue order, then running ones.
        nodes: the cluster's nodes and what each holds (a queue placing on a cluster; empty
            for one over a single machine).
    """

    owner: str
    updated_at: float
    policy: str
    capacity: ResourceSpec
    items: tuple[QueuedItem, ...] = ()
    nodes: tuple[NodeUsage, ...] = ()


class SchedulingStore(abc.ABC):
    """Quotas, queue snapshots and task run-time history."""

    # --- quotas -------------------------------------------------------------------------

    @abc.abstractmethod
    def put_quota(self, quota: ProjectQuota) -> None:
        """Insert or replace the quota of ``quota.project``."""

    @abc.abstractmethod
    def get_quota(self, project: str) -> ProjectQuota | None:
        """The project's quota, or None if it has none."""

    @abc.abstractmethod
    def list_quotas(self) -> list[ProjectQuota]:
        """Every quota, by project name."""

    @abc.abstractmethod
    def delete_quota(self, project: str) -> bool:
        """Remove a project's quota; return whether there was one."""

    # --- queue snapshots ------------------------------------------------------------------

    @abc.abstractmethod
    def put_queue_snapshot(self, snapshot: QueueSnapshot) -> None:
        """Insert or replace the snapshot of ``snapshot.owner``."""

    @abc.abstractmethod
    def list_queue_snapshots(self) -> list[QueueSnapshot]:
        """Every snapshot, by owner."""

    @abc.abstractmethod
    def delete_queue_snapshot(self, owner: str) -> None:
        """Remove the owner's snapshot (nothing if there is none)."""

    # --- run-time history ---------------------------------------------------------------

    @abc.abstractmethod
    def record_task_runtime(
        self,
        task: str,
        *,
        execution_id: str,
        node_id: str,
        attempt: int,
        duration: float,
        ended_at: float,
    ) -> None:
        """Remember that an attempt of ``task`` succeeded after ``duration`` seconds."""

    @abc.abstractmethod
    def task_runtimes(self, task: str, limit: int = 20) -> list[float]:
        """The durations of the task's last ``limit`` successful attempts, newest first."""
