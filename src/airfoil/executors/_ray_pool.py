"""The ray executor's warm workers: one record per worker actor, the task environment it
serves (the key warm workers are reused by) and the finalizer that stops them all.

Split from :mod:`airfoil.executors.ray`, which drives them. Imports Ray only inside functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airfoil.core.forks import forked_from
from airfoil.core.records import TaskSpec
from airfoil.executors._ray_connection import CONNECTION
from airfoil.executors._ray_idle import HOLDINGS, Held
from airfoil.executors._ray_reaper import stop_actors
from airfoil.executors.base import AttemptRequest

__all__ = ["Worker", "environment_key", "held", "holds_resources", "places_own_workers", "shutdown"]


@dataclass(eq=False)
class Worker:
    """A warm worker actor: starting (``ready`` pending), busy (``ref`` pending) or idle."""

    handle: Any
    key: tuple[Any, ...]
    ready: Any = None  # the ready() ref while starting
    name: str = ""  # host:pid:ray once started
    request: AttemptRequest | None = None
    ref: Any = None  # the run() ref while busy
    created: float = 0.0  # monotonic
    started: float = 0.0  # wall clock, for results
    deadline: float | None = None  # monotonic
    last_used: float = 0.0  # monotonic
    tasks: dict[tuple[str, str], str] = field(default_factory=dict)  # (module, qualname) -> ver
    node: str = ""  # the Ray node it runs on, once known (placed there, or its report said)
    room_at: float = 0.0  # monotonic: while starting, when to stop an idle holder for it
    where: tuple[str, int, float] | None = None  # (Ray node, pid, start time) once started


def holds_resources(key: tuple[Any, ...]) -> bool:
    """Whether workers of this environment hold cluster resources while idle (they asked
    for CPUs, memory, GPUs, an accelerator or custom resources)."""
    _root, _url, cpu, mem, gpu, accelerator, custom, _node = key
    return bool(cpu or mem or gpu or accelerator or custom)


def held(key: tuple[Any, ...]) -> Held:
    """The CPUs, memory and GPUs workers of this environment hold."""
    return (float(key[2]), float(key[3]), float(key[4]))


def environment_key(request: AttemptRequest) -> tuple[Any, ...]:
    """The task environment a warm worker serves: code root, the requests' shape (CPUs,
    memory, GPUs, accelerator, custom resources) and the node the policy placed it on."""
    task = request.task
    if places_own_workers(task):
        return (request.code_root, request.blob_url, 0.0, 0, 0, "", (), "")
    r = task.requests
    custom = tuple(sorted(task.custom_resources.items()))
    node = request.placement[0] if request.placement else ""
    return (
        request.code_root,
        request.blob_url,
        r.cpu,
        r.mem,
        r.gpu,
        task.accelerator,
        custom,
        node,
    )


def places_own_workers(task: TaskSpec) -> bool:
    """Whether the task's attempt only supervises workers it places itself (a training gang:
    its placement group holds the requests, so its supervising actor asks for nothing)."""
    return bool(task.config.get("gang"))


def shutdown(
    handles: list[Any], wheres: dict[int, tuple[str, int, float]], token: object, pid: int
) -> None:
    """Kill the executor's actors and release this process's Ray (idempotent); nothing in
    a forked child (``pid`` is the parent's: its actors and Ray are the parent's, and a Ray
    call there, on the parent's sockets, hangs it; see ``keep_past_fork``)."""
    if forked_from(pid):
        return
    HOLDINGS.drop_owner(token)
    try:
        import ray

        if ray.is_initialized():
            stop_actors(ray, [(h, wheres.get(id(h))) for h in handles])
    except Exception:  # best effort: the process may be exiting
        pass
    handles.clear()
    wheres.clear()
    CONNECTION.release()
