"""Stopping a Ray actor with the processes its task started (the ray executor's workers,
a gang's ranks).

``ray.kill`` ends the actor's process, and Ray its direct children: what they started in
turn -- in a session of its own (``start_new_session=True``) too -- would run on, handed to
init, holding GPUs, ports and files. So an actor is stopped by a :class:`Reaper`, one small
actor per node (no CPU), that freezes the actor's process and kills everything below it there
with :func:`airfoil.executors._proc_tree.kill_tree` (the process executor's own way); then
``ray.kill`` ends the actor (a child started in the moment between is a direct one, which Ray
stops). Each actor says where it runs (node, pid, start time) when it starts; an actor that
never said (it never started) is only ``ray.kill``-ed.

Like :mod:`airfoil.executors._ray_worker`, this module imports Ray only inside functions.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

__all__ = ["REAP_WAIT_S", "Reaper", "reaper_on", "stop_actors", "where_am_i"]

#: How long stopping an actor waits for its node's reaper (started on first use: seconds).
REAP_WAIT_S = 10.0

#: (Ray session, node id) -> that node's reaper, made by this process.
_REAPERS: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


class Reaper:
    """Kills process trees on its node (a Ray actor, one per node, taking no CPU)."""

    def kill_tree(self, pid: int, created: float) -> int:
        from airfoil.executors._proc_tree import kill_tree

        # the actor's own process is left to ``ray.kill`` (a kill Ray expects: no error)
        return kill_tree(pid, created, root=False)


def where_am_i() -> tuple[str, int, float]:
    """``(Ray node id, pid, start time)`` of this actor's process: what stopping it needs."""
    import psutil
    import ray

    r: Any = ray  # parts of Ray's API are untyped
    return r.get_runtime_context().get_node_id(), os.getpid(), psutil.Process().create_time()


def reaper_on(ray: Any, node: str) -> Any:
    """The reaper of ``node`` (started now if this process has none there yet: it comes up
    meanwhile, so call this as soon as an actor's node is known)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    key = (str(ray.get_runtime_context().gcs_address), node)
    with _LOCK:
        handle = _REAPERS.get(key)
        if handle is None:
            handle = _REAPERS[key] = (
                ray.remote(Reaper)
                .options(
                    num_cpus=0,
                    max_restarts=-1,
                    max_task_retries=-1,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
                )
                .remote()
            )
        return handle


def stop_actors(ray: Any, actors: list[tuple[Any, tuple[str, int, float] | None]]) -> None:
    """Stop each ``(actor handle, where)`` and every process below it (``where``: its
    :func:`where_am_i`; None: it never started, only Ray is told). The trees go first, all
    at once, then Ray forgets the actors. Best effort: an actor or node already gone is no
    error."""
    refs = []
    for _handle, where in actors:
        if where is not None:
            node, pid, created = where
            with contextlib.suppress(Exception):
                refs.append(reaper_on(ray, node).kill_tree.remote(pid, created))
    if refs:
        with contextlib.suppress(Exception):
            ray.wait(refs, num_returns=len(refs), timeout=REAP_WAIT_S)
    for handle, _where in actors:
        with contextlib.suppress(Exception):
            ray.kill(handle, no_restart=True)
