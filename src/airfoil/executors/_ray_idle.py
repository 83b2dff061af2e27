"""The resource-holding Ray workers of every Ray executor of this process, by node.

The engine's policy counts attempts, not warm workers: once an attempt ends, the policy may
give its CPUs or GPUs to any other attempt on that node -- also one of *another* executor
(each server slot, each thread's engine has its own). A warm worker left idle there still
holds them in Ray, so the other executor's new worker, pinned to that node, would wait for
as long as the idle worker lives. This registry lets an executor whose new worker waits on a
node where the process's workers hold more than the node has stop such an idle worker, of
any executor of the process, its own least recently used first.

Protocol (thread-safe; each executor is driven from its own thread):

- An executor registers each worker that holds resources when it starts it
  (:meth:`WorkerHoldings.started`), marks it idle when its attempt ends
  (:meth:`~WorkerHoldings.idle`), claims it back before reusing it
  (:meth:`~WorkerHoldings.claim`: False if another executor took it meanwhile, then the owner
  drops it), and forgets it when it stops it (:meth:`~WorkerHoldings.discard`).
- :meth:`~WorkerHoldings.take` picks the idle worker to stop for a waiting one, only if the
  node is over-held; the caller stops it (``ray.kill`` may be called from any thread), and the
  owner drops it at its next look (:meth:`~WorkerHoldings.was_taken`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["HOLDINGS", "Held", "WorkerHoldings"]

#: What a worker holds (or a node has): (CPUs, memory bytes, GPUs).
Held = tuple[float, float, float]


@dataclass(eq=False)
class _Entry:
    worker: Any
    owner: object
    node: str  # "": where Ray put it (not known here)
    held: Held
    idle_since: float | None = None  # monotonic, while idle


class WorkerHoldings:
    """The process's resource-holding Ray workers (starting, busy, idle), by node."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, _Entry] = {}
        self._taken: dict[int, _Entry] = {}  # taken by another executor, until its owner looks

    def started(self, worker: Any, owner: object, node: str, held: Held) -> None:
        """``owner`` started ``worker`` on ``node`` (``""``: Ray places it), holding ``held``."""
        with self._lock:
            self._entries[id(worker)] = _Entry(worker, owner, node, held)

    def idle(self, worker: Any, since: float) -> None:
        """``worker``'s attempt ended: it idles, still holding its resources."""
        with self._lock:
            entry = self._entries.get(id(worker))
            if entry is not None:
                entry.idle_since = since

    def claim(self, worker: Any) -> bool:
        """Take idle ``worker`` back for its owner to reuse: False if another executor took
        it (it is being stopped)."""
        with self._lock:
            if self._taken.pop(id(worker), None) is not None:
                return False
            entry = self._entries.get(id(worker))
            if entry is not None:
                entry.idle_since = None
            return True

    def discard(self, worker: Any) -> None:
        """Forget ``worker`` (its owner stopped it)."""
        with self._lock:
            self._entries.pop(id(worker), None)
            self._taken.pop(id(worker), None)

    def was_taken(self, worker: Any) -> bool:
        """Whether another executor took idle ``worker`` (its owner then drops it)."""
        with self._lock:
            return self._taken.pop(id(worker), None) is not None

    def over_held(self, node: str, capacity: Held | None, owner: object) -> bool:
        """Whether :meth:`take` would stop a worker: ``owner`` has an idle worker on ``node``,
        or the process's workers there hold more than ``capacity`` of some resource and an
        idle one holds some of it (for a worker Ray places -- no node or capacity -- whether
        ``owner`` has an idle worker anywhere: it may wait for it)."""
        with self._lock:
            return self._over(node, capacity, owner) is not None

    def take(self, node: str, capacity: Held | None, owner: object) -> Any | None:
        """The idle worker to stop for ``owner``'s worker waiting on ``node``, removed from
        the registry: ``owner``'s own there first, else another executor's holding what the
        node is over-held by; the least recently used first; None if none. For a worker Ray
        places (no node or capacity: nothing shows what it waits for) only ``owner``'s own."""
        with self._lock:
            found = self._over(node, capacity, owner)
            if found is None:
                return None
            best = min(found, key=lambda e: (e.owner is not owner, e.idle_since or 0.0))
            del self._entries[id(best.worker)]
            if best.owner is not owner:
                self._taken[id(best.worker)] = best
            return best.worker

    def drop_owner(self, owner: object) -> None:
        """Forget every worker of ``owner`` (its executor closed and stops them itself)."""
        with self._lock:
            for table in (self._entries, self._taken):
                for key in [k for k, e in table.items() if e.owner is owner]:
                    del table[key]

    def _over(self, node: str, capacity: Held | None, owner: object) -> list[_Entry] | None:
        idle = [e for e in self._entries.values() if e.idle_since is not None]
        if not node or capacity is None:
            return [e for e in idle if e.owner is owner] or None
        # The owner's own idle workers on the node always qualify (something it cannot see
        # may hold the room, as before); another executor's only where the process's workers
        # over-hold the node.
        here = [e for e in self._entries.values() if e.node == node]
        used = [sum(e.held[i] for e in here) for i in range(3)]
        short = [i for i in range(3) if used[i] > capacity[i] + 1e-9]
        found = [
            e
            for e in idle
            if e.node == node and (e.owner is owner or any(e.held[i] > 0 for i in short))
        ]
        return found or None


#: The process's registry: every RayExecutor of the process registers its workers here.
HOLDINGS = WorkerHoldings()
