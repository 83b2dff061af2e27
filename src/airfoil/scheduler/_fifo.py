"""First-come-first-served policies: ``fifo``, ``fifo-skip`` and ``backfill`` (EASY).

All three serve the one global queue in order of priority (highest first), then submit time.
A project's quota cap holds only that project's items back; it never blocks the queue.

- ``fifo``: strict. The first item that does not fit blocks every item behind it.
- ``fifo-skip``: an item that fits may pass a blocked one (Kueue's default, ``BestEffortFIFO``).
  Cheap and busy, but a large gang can starve behind a stream of small work.
- ``backfill``: EASY backfilling. The first blocked item gets a reservation at the earliest
  time running work (by its estimates) frees enough room, on definite nodes; an item behind it
  may start now only if it is expected to end before then, or it leaves the reserved nodes
  enough room. Wrong estimates can still delay the reservation: the policy never preempts.

None of them preempts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from airfoil.scheduler import _reasons
from airfoil.scheduler._policy import Policy
from airfoil.scheduler._round import Round

if TYPE_CHECKING:
    from airfoil.scheduler._model import Decision
    from airfoil.scheduler._state import SchedulerState

__all__ = ["BackfillPolicy", "FifoPolicy", "FifoSkipPolicy"]


@dataclass(frozen=True, slots=True)
class FifoPolicy(Policy):
    """Strict FIFO: start items in order until the first that does not fit."""

    name: ClassVar[str] = "fifo"

    def decide(self, state: SchedulerState, now: float, *, explain: bool = True) -> Decision:
        """See :meth:`Policy.decide`."""
        rnd = Round(state, now, explain)
        waiting = state.waiting
        for key in state.order:
            entry = waiting[key[4]]
            reason = rnd.try_start(entry)
            if reason is None:
                continue
            rnd.wait(entry, reason)
            if rnd.blocked_by_quota:
                continue
            rnd.explain_all(_reasons.behind_head(entry.item.id))
            break
        return rnd.decision()


@dataclass(frozen=True, slots=True)
class FifoSkipPolicy(Policy):
    """FIFO where an item that fits may pass one that does not."""

    name: ClassVar[str] = "fifo-skip"

    def decide(self, state: SchedulerState, now: float, *, explain: bool = True) -> Decision:
        """See :meth:`Policy.decide`."""
        return _skip_scan(state, now, explain, easy=False)


@dataclass(frozen=True, slots=True)
class BackfillPolicy(Policy):
    """EASY backfill: a reservation for the first blocked item, backfill that cannot delay it."""

    name: ClassVar[str] = "backfill"

    def decide(self, state: SchedulerState, now: float, *, explain: bool = True) -> Decision:
        """See :meth:`Policy.decide`."""
        return _skip_scan(state, now, explain, easy=True)


def _skip_scan(state: SchedulerState, now: float, explain: bool, *, easy: bool) -> Decision:
    """Try every item in queue order; with ``easy``, the first blocked one gets a reservation."""
    rnd = Round(state, now, explain)
    waiting = state.waiting
    for key in state.order:
        entry = waiting[key[4]]
        reason = rnd.try_start(entry)
        if reason is None:
            continue
        if easy and not rnd.reservations and not rnd.blocked_by_quota:
            reservation = rnd.reserve(entry)
            if reservation is not None:
                reason = _reasons.in_reservation(reservation.at, now)
        rnd.wait(entry, reason)
        if rnd.exhausted():
            rnd.explain_rest()
            break
    return rnd.decision()
