"""The policy interface every scheduling policy implements.

A policy is immutable configuration plus a pure :meth:`Policy.decide`: it reads a
:class:`~airfoil.scheduler.SchedulerState` and returns a
:class:`~airfoil.scheduler.Decision`, changing nothing. Two hooks let the state keep the
indexes a policy needs up to date as work arrives, instead of the policy sorting on every
call: :meth:`Policy.band` (a leading sort key, e.g. LAS's service level), :meth:`Policy.rank`
(the key after priority, by default the submit time) and
:meth:`Policy.reserve_from` (when an item may start holding a reservation; the state keeps
such items in order of that time: read them with ``SchedulerState.due_reservable(now)``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from airfoil.scheduler._model import Decision, WorkItem
    from airfoil.scheduler._state import SchedulerState

__all__ = ["Policy"]


class Policy(ABC):
    """A scheduling policy. Subclasses are immutable and do no I/O."""

    name: ClassVar[str]
    """The name it is registered under."""

    def band(self, item: WorkItem) -> int:
        """Leading queue sort key: lower bands are served first. Default: one band."""
        return 0

    def rank(self, item: WorkItem, estimate: float) -> float:
        """Second queue sort key, after ``band`` and priority: lower goes first.

        Default: the submit time (first come, first served). ``estimate`` is the item's
        remaining run-time estimate in seconds.
        """
        return item.submit_time

    def reserve_from(self, item: WorkItem, estimate: float, node_share: float) -> float | None:
        """When ``item`` may start holding a reservation, or ``None`` for never (the default).

        Args:
            item: the waiting item.
            estimate: its remaining run-time estimate, seconds.
            node_share: the largest fraction of the biggest node one of its workers needs, in
                any resource (``> 0.5``: two such workers never share a node).
        """
        return None

    @abstractmethod
    def decide(self, state: SchedulerState, now: float, *, explain: bool = True) -> Decision:
        """What to start and preempt at ``now``, and why the rest waits.

        Args:
            state: the cluster and queue; read only.
            now: the current time, in the state's clock.
            explain: fill ``Decision.reasons`` for every waiting item.
        """
