"""What a task asks of the machine, without the scheduler: whether its attempts go through the
resource queue, and the task with environment added for a placed attempt.

Kept apart from :mod:`airfoil.engine._resources` so that a drive whose tasks ask for nothing
never imports the scheduler (the queue is built on first use; docs/dev/performance-log.md).
"""

from __future__ import annotations

import msgspec

from airfoil.core.records import TaskSpec
from airfoil.core.resources import LOCAL_RESOURCES_KEY, ResourceSpec

__all__ = ["asks_for_resources", "best_effort_request", "replace_environment"]


def asks_for_resources(task: TaskSpec | None) -> bool:
    """Whether a task's attempts go through the resource queue (it asks for something).

    Tasks that ask for nothing are bounded only by the executor's parallelism: no policy
    decision is needed to start them, which keeps small tasks fast.
    """
    if task is None:
        return False
    r = task.requests
    return r.cpu > 0 or r.mem > 0 or r.gpu > 0


def replace_environment(task: TaskSpec, extra: dict[str, str]) -> TaskSpec:
    """The task with ``extra`` added to its environment."""
    return msgspec.structs.replace(task, environment={**task.environment, **extra})


def best_effort_request(task: TaskSpec, per: ResourceSpec, capacity: ResourceSpec) -> ResourceSpec:
    """What a local run admits a task with: its request ``per``, lowered to ``capacity`` in
    each quantity the machine lacks when the task treats its requests as hints locally
    (``config[LOCAL_RESOURCES_KEY] == "best_effort"``, as flytekit-style tasks do); else
    ``per`` unchanged."""
    if task.config.get(LOCAL_RESOURCES_KEY) != "best_effort" or per.fits_in(capacity):
        return per
    return ResourceSpec(
        cpu=min(per.cpu, capacity.cpu),
        mem=min(per.mem, capacity.mem),
        gpu=min(per.gpu, capacity.gpu),
    )
