"""Shields: running work ``airfoil`` takes as no victim for what it knows of it (off by default).

Each shield makes a running item no victim of any preemption of a decision (the
least-attained-service pass, the within-level rule, due gangs making room); ``defragment``'s
moves, which restart at once, are not shielded. Only what a scheduler knows is read: the
item's estimate, the time it ran in earlier attempts (``WaitingEntry.done``), how often it
was preempted, its submit time and the queue (docs/scheduling.md, twenty-ninth session):

- ``preempted``: an item preempted at least this many times;
- ``done``: an item whose work done (earlier attempts and this run) is at least this share
  of its estimate, while it has not run past it ("nearly done");
- ``waited``: an item that waited (since its submit, less the time it ran) at least this
  many times its estimate;
- ``queue``: any of them only while the waiting work asks for less than this many times
  the cluster's GPUs (``None``: always).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airfoil.scheduler._state import RunningEntry, SchedulerState

__all__ = ["Shield"]


class Shield:
    """Whether a running item is shielded at ``now``; built once per decision."""

    __slots__ = ("_done", "_now", "_preempted", "_waited")

    def __init__(
        self,
        now: float,
        preempted: int | None,
        done: float | None,
        waited: float | None,
    ) -> None:
        self._now = now
        self._preempted = preempted
        self._done = done
        self._waited = waited

    @classmethod
    def build(
        cls,
        state: SchedulerState,
        now: float,
        *,
        preempted: int | None,
        done: float | None,
        waited: float | None,
        queue: float | None,
    ) -> Shield | None:
        """A shield for this decision, or ``None`` when none is set or the queue is long."""
        if preempted is None and done is None and waited is None:
            return None
        if queue is not None and sum(state.asked_gpus.values()) >= queue * state.totals[2]:
            return None
        return cls(now, preempted, done, waited)

    def covers(self, run: RunningEntry) -> bool:
        """Whether ``run`` is no victim in this decision."""
        entry = run.entry
        item = entry.item
        if self._preempted is not None and item.preempted >= self._preempted:
            return True
        ran = self._now - run.start
        estimate = entry.done + entry.estimate  # the whole estimate, earlier attempts too
        if (
            self._done is not None
            and ran < entry.estimate
            and entry.done + ran >= self._done * estimate
        ):
            return True
        if self._waited is not None:
            waited = self._now - item.submit_time - entry.done - ran
            if waited >= self._waited * estimate:
                return True
        return False
