"""The ``stretch`` policy (the default before issue 11): fair share, aged gang reservations,
backfill, reclaim; it never preempts to cut the mean completion time (``airfoil`` does).

1. **Gangs that waited too long get a reservation.** Every gang (more than one worker) that
   has waited at least ``reserve_after`` seconds is served first, in the order they became
   due: started if it fits, else given a reservation on definite nodes at the earliest time
   running work is expected to free them (up to ``max_reservations`` at once). This bounds
   how long small work can starve a gang, which plain fair sharing (like ``fifo-skip``)
   cannot. A single worker that needs more than half of the biggest node is just as hard to
   place (a node must drain for it), so it is served the same way once it is overdue by its
   own rank (below).
2. **Everything else shares the cluster fairly, around the reservations.** Projects take
   turns by dominant-resource fairness, with quotas, borrowing of idle capacity, and reclaim
   of borrowed interruptible work for a project within its quota (see
   :mod:`airfoil.scheduler._fair`). Within a project, work goes by priority, then by
   ``submit_time + stretch x estimate``: the time at which waiting would make the item's
   slowdown reach ``1 + stretch``. Short work goes first (which is what cuts the mean
   completion time), yet nothing starves: once an item has waited ``stretch`` times its own
   estimate, everything submitted later ranks behind it. Every start is EASY backfill against
   the reservations: it must be expected to end before a reservation comes due, or leave the
   reserved nodes enough room.
3. **Only interruptible work is ever preempted**, and only to reclaim quota.

Why these settings do not depend on a trace: ``reserve_after`` is a bound on starvation that
an operator states ("a gang never waits more than ~this before the cluster starts draining
for it"), not a fitted value; a gang that waits less than that is still placed whenever it
fits. ``stretch`` is a slowdown target, a ratio with no unit: it does not scale with job
lengths, arrival rates or cluster size; "more than half the biggest node" is structural.
docs/scheduling.md shows the results for stretch 1-8, reserve_after 0-1 h, other loads,
estimate-error seeds and halves and thirds of the week.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from airfoil.scheduler import _reasons
from airfoil.scheduler._fair import fair_pass
from airfoil.scheduler._policy import Policy
from airfoil.scheduler._round import Round

if TYPE_CHECKING:
    from airfoil.scheduler._model import Decision, WorkItem
    from airfoil.scheduler._state import SchedulerState

__all__ = ["StretchPolicy"]


@dataclass(frozen=True, slots=True)
class StretchPolicy(Policy):
    """Fair share with reservations for gangs that waited, backfill around them, reclaim.

    Attributes:
        stretch: within a project, an item ranks by ``submit_time + stretch x estimate``: short
            work goes first, and waiting work overtakes fresh work once it has waited
            ``stretch`` times its own estimated run time.
        reserve_after: seconds a gang waits before it is served first and holds a reservation.
        max_reservations: how many gangs may hold reservations at once.
        reclaim: preempt borrowed interruptible work to give projects their nominal quota.
    """

    name: ClassVar[str] = "stretch"
    stretch: float = 4.0
    reserve_after: float = 600.0
    max_reservations: int = 1
    reclaim: bool = True

    def rank(self, item: WorkItem, estimate: float) -> float:
        """Earliest "deadline" first: the time the item's slowdown would reach 1 + stretch."""
        return item.submit_time + self.stretch * estimate

    def reserve_from(self, item: WorkItem, estimate: float, node_share: float) -> float | None:
        """When work that is hard to place may start holding a reservation.

        A gang, once it has waited ``reserve_after``. A worker that needs more than half of
        the biggest node (it can never share a node with a peer, so it waits for one to
        drain), once it is overdue by its own rank: after waiting ``stretch`` times its
        estimate (and at least ``reserve_after``). Other work never needs one.
        """
        if item.gang_size > 1:
            return item.submit_time + self.reserve_after
        if node_share > 0.5:
            return item.submit_time + max(self.reserve_after, self.stretch * estimate)
        return None

    def decide(self, state: SchedulerState, now: float, *, explain: bool = True) -> Decision:
        """See :meth:`Policy.decide`."""
        rnd = Round(state, now, explain)
        served: set[str] = set()
        for due, _, item_id in state.due_reservable(now):
            if due > now:
                rnd.wake(due)
                break
            if len(rnd.reservations) >= self.max_reservations:
                break
            entry = state.waiting[item_id]
            served.add(item_id)
            reason = rnd.try_start(entry)
            if reason is None:
                continue
            if not rnd.blocked_by_quota:
                reservation = rnd.reserve(entry)
                if reservation is not None:
                    reason = _reasons.in_reservation(reservation.at, now)
            rnd.wait(entry, reason)
        else:  # every item in reservable was due: wake for the first one that is not
            first = state.next_reservable()
            if first is not None:
                rnd.wake(first)
        fair_pass(rnd, reclaim=self.reclaim, skip=served)
        return rnd.decision()
