"""Admission of deployment replicas that ask for resources (``airfoil deploy --cpus C --gpus G
--memory M``): each such replica of a process deployment holds its share of this machine in
the server's resource queue (the one task attempts are admitted through), so services and
tasks never overcommit the machine together.

A replica is one work item of the pseudo-execution ``deploy.PROJECT.NAME`` (node
``replica-INDEX``), never interruptible (a service is not preempted). It is submitted before
its first start and starts only once granted, with ``CUDA_VISIBLE_DEVICES`` set to the GPUs
the queue gave it; it keeps its grant across crashes and restarts, and gives it back when it
is scaled away or its deployment stops. A deployment whose replica could never fit (more
than the machine, or its project's quota without borrowing) is refused when it is deployed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from airfoil.core.errors import UnschedulableTaskError
from airfoil.core.records import Interface, TaskSpec
from airfoil.core.resources import ResourceSpec

if TYPE_CHECKING:
    from airfoil.engine._resources import AdmissionQueue

__all__ = ["ReplicaAdmission", "describe_resources"]


def describe_resources(r: ResourceSpec) -> str:
    """``cpu=2, mem=512Mi, gpu=1`` (as the resource queue says it)."""
    return f"cpu={r.cpu:g}, mem={r.mem / 2**20:.0f}Mi, gpu={r.gpu}"


def _execution(project: str, name: str) -> str:
    return f"deploy.{project}.{name}"


def _node(index: int) -> str:
    return f"replica-{index}"


def _task(project: str, name: str, resources: ResourceSpec) -> TaskSpec:
    return TaskSpec(
        name=f"deploy.{project}.{name}",
        version="service",
        interface=Interface(),
        module="",
        qualname="",
        requests=resources,
        interruptible=False,
    )


class ReplicaAdmission:
    """The replicas of this server's deployments in its resource queue.

    Args:
        queue: the server's resource queue (made on first use: a server whose deployments
            ask for nothing never builds it here).
    """

    def __init__(self, queue: Callable[[], AdmissionQueue]) -> None:
        self._queue_factory = queue
        self._queue: AdmissionQueue | None = None
        self._lock = threading.Lock()
        #: (project, name, index) -> the GPUs it was granted (held until released)
        self._granted: dict[tuple[str, str, int], tuple[str, ...]] = {}
        self._waiting: set[tuple[str, str, int]] = set()

    @property
    def queue(self) -> AdmissionQueue:
        with self._lock:
            if self._queue is None:
                self._queue = self._queue_factory()
            return self._queue

    def check(self, project: str, name: str, resources: ResourceSpec) -> None:
        """Raise if one replica asking for ``resources`` could never start here.

        Raises:
            UnschedulableTaskError: naming the deployment, what a replica asks for and the most
                it could be given, and the options to lower.
        """
        task = _task(project, name, resources)
        try:
            self.queue.check(task, _node(0), project)
        except UnschedulableTaskError as exc:
            raise UnschedulableTaskError(
                f"each replica of deployment {name!r} asks for {describe_resources(resources)}"
                f" but {str(exc).split(' but ', 1)[-1]}".replace(
                    "Lower its requests", "Lower --cpus / --gpus / --memory"
                ),
                task=task.name,
                node_id=_node(0),
                requested=resources,
                capacity=exc.capacity,
            ) from None

    def admit(
        self, project: str, name: str, index: int, resources: ResourceSpec
    ) -> tuple[str, ...] | None:
        """The GPUs replica ``index`` may start with once the queue granted it its resources
        (submitted on the first call); None while it waits."""
        key = (project, name, index)
        if key in self._granted:
            return self._granted[key]
        queue = self.queue
        execution = _execution(project, name)
        if key not in self._waiting:
            queue.submit(execution, _node(index), project, _task(project, name, resources))
            self._waiting.add(key)
        queue.decide()
        granted, _preempted = queue.take(execution)  # never preempted: not interruptible
        for node in granted:
            got = (project, name, int(node.rsplit("-", 1)[1]))
            self._waiting.discard(got)
            self._granted[got] = queue.gpus_of(execution, node)
        return self._granted.get(key)

    def release(self, project: str, name: str, index: int) -> None:
        """Give back what replica ``index`` holds or waits for (scaled away, stopped)."""
        key = (project, name, index)
        if key not in self._granted and key not in self._waiting:
            return
        self._granted.pop(key, None)
        self._waiting.discard(key)
        self.queue.finish(_execution(project, name), _node(index))

    def held(self, project: str, name: str) -> list[int]:
        """The indices of a deployment's replicas that hold or wait for resources."""
        return sorted(k[2] for k in {*self._granted, *self._waiting} if k[:2] == (project, name))
