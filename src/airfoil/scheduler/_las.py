"""Least attained service, Tiresias-style: the ``las`` policy.

Work that has received the least service runs first, without knowing run times: a job's
*attained service* is its resources times the time it has run (GPU-seconds, or CPU-seconds for
CPU-only work, summed over its workers and over earlier attempts). As in Tiresias (NSDI'19),
service is discretised into levels by ``thresholds``; within a level, items go by priority and
submit time (FIFO), which avoids the constant swapping of continuous LAS.

It is preemptive: an item that does not fit may preempt interruptible running work at a
*higher* level (more service), the highest level and the most recently started first, and
only as much as it needs. A running item crossing into a higher level can make waiting work
eligible to preempt it, so the decision asks to be woken at the next such crossing.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from airfoil.scheduler._policy import Policy
from airfoil.scheduler._round import Round
from airfoil.scheduler._state import service_rate

if TYPE_CHECKING:
    from airfoil.scheduler._model import Decision, WorkItem
    from airfoil.scheduler._state import RunningEntry, SchedulerState, Shape

__all__ = ["LasPolicy"]

_NEXT_ROUND_S = 1e-3
"""How soon a decision that hit ``max_preemptions`` asks for the next one."""


@dataclass(frozen=True, slots=True)
class LasPolicy(Policy):
    """Discretised least-attained-service, preemptive.

    Attributes:
        thresholds: attained service (resource-seconds) at which an item moves to the next
            level; ascending. The default levels are: under 1 GPU-hour, under 10, and above.
        max_preemptions: at most this many items are preempted by one decision; the next
            decision (asked for at once, through ``wake_at``) goes on. This bounds both a
            preemption storm (every restart costs the victims their progress since their
            last checkpoint) and the time one decision takes.
    """

    name: ClassVar[str] = "las"
    thresholds: tuple[float, ...] = (3600.0, 36000.0)
    max_preemptions: int = 64

    def band(self, item: WorkItem) -> int:
        """The item's service level."""
        return bisect_right(self.thresholds, item.attained)

    def decide(self, state: SchedulerState, now: float, *, explain: bool = True) -> Decision:
        """See :meth:`Policy.decide`."""
        rnd = Round(state, now, explain)
        if not state.order:
            return rnd.decision()
        rows = self._victims(rnd, state.order[0][0])
        victims = [run for _, _, run in rows]
        minus_levels = [-level for level, _, _ in rows]
        top = rows[0][0] if rows else -1
        waiting = state.waiting
        # a shape that could not make room at some level cannot at that level or above
        hopeless: dict[Shape, int] = {}
        stuck = False
        compacted = 0
        for key in state.order:
            entry = waiting[key[4]]
            reason = rnd.try_start(entry)
            if reason is None:
                continue
            level = key[0]
            if len(rnd.preempted) >= self.max_preemptions:
                # Enough preempted for one decision: the next one goes on (and would see
                # the same waiting work, in the same order).
                rnd.wake(now + _NEXT_ROUND_S)
                stuck = True
            elif (
                level < top and not rnd.blocked_by_quota and level < hopeless.get(entry.shape, top)
            ):
                if len(rnd.preempted) >= compacted + 32:
                    # drop preempted victims so later searches do not walk over them again
                    kept = [
                        i for i, run in enumerate(victims) if run.entry.item.id not in rnd.preempted
                    ]
                    victims = [victims[i] for i in kept]
                    minus_levels = [minus_levels[i] for i in kept]
                    compacted = len(rnd.preempted)
                higher = victims[: bisect_left(minus_levels, -level)]
                if rnd.make_room(entry, higher):
                    continue
                hopeless[entry.shape] = level
                # Once no waiting shape can make room at this level, nothing later in the
                # queue (this level or above) can either: the rest only waits.
                stuck = len(hopeless) >= len(state.shapes) and all(
                    hopeless.get(shape, top) <= level for shape in state.shapes
                )
            rnd.wait(entry, reason)
            if (level >= top or stuck) and rnd.exhausted():
                rnd.explain_rest()
                break
        return rnd.decision()

    def _victims(self, rnd: Round, lowest: int) -> list[tuple[int, float, RunningEntry]]:
        """Interruptible running work above the lowest waiting level, highest level first.

        In the same pass, asks to be woken when running work at or below ``lowest`` will
        cross above it (then the waiting work may preempt it).
        """
        thresholds, now = self.thresholds, rnd.now
        crossing = thresholds[lowest] if lowest < len(thresholds) else None
        rows = []
        for run in rnd.state.running.values():
            item = run.entry.item
            if not item.interruptible:
                continue
            rate = service_rate(run.entry)
            attained = item.attained + (now - run.start) * rate
            level = bisect_right(thresholds, attained)
            if level > lowest:
                rows.append((level, run.start, run))
            elif crossing is not None and rate > 0:
                rnd.wake(now + (crossing - attained) / rate)
        rows.sort(key=_victim_key)
        return rows


def _victim_key(row: tuple[int, float, RunningEntry]) -> tuple[int, float]:
    return (-row[0], -row[1])
