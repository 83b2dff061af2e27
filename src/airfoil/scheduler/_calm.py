"""Rules of ``AirfoilPolicy`` that act only while the cluster is calm (experimental, off).

The p99 misses of the held-out and fresh windows are at low load (docs/scheduling.md,
"Does it generalise?"): long single workers preempted (or unable to start) that then wait
for room while shorter work, ranked before them, takes every GPU that frees. Every rule that
protected such work lost on week 45 at *high* load, where protected work holds GPUs against
short work (the mean, fairness). These rules therefore act only while the cluster is
**calm**: the GPUs asked by all waiting work (every worker) are under ``calm_queue`` times
the cluster's GPUs (:func:`is_calm`, which stops counting at the bar, so a long queue costs
a few items). Each is a setting of ``AirfoilPolicy``, off by default:

- ``calm_lost_limit`` f: a running single worker already preempted that has lost at least
  f times its whole estimate to waiting (its time queued since its submit, all attempts,
  less nothing: at low load the first wait is near zero, so this is the wait its preemptions
  caused) is no victim of the least-attained-service pass while it is within its estimate
  (due gangs still take it; :func:`lost_too_much`); with ``calm_lost_whole``, only one that
  needs all the GPUs of the largest node. A bound on *lost* time, not on the
  number of stops (the eighteenth session's ``preempt_limit``). In the simulator a
  preemption throws no attained service away (jobs checkpoint; each restart costs 60 s), so
  what preemption loses is the wait after it.
- ``calm_spare_whole``: a single worker that needs all the GPUs of the largest node is no
  victim of the least-attained-service pass for a single-worker claimant (gangs still take
  it): once stopped it needs a whole node again, which smaller work rarely leaves.
- ``calm_whole_last``: for a single-worker claimant of less than a node, whole-node singles
  are the last victims of the least-attained-service pass (after all others, each group in
  its order; :func:`whole_last`): a one-minute job then stops a smaller job rather than a
  whole-node job that would wait for a whole node again.
- ``calm_reserve_after`` a: the first single worker in queue order that needs a whole node,
  has waited a times its estimate (time since submit less the time it ran) and is not due
  starts before the least-attained-service pass if it fits, else holds the reservation
  (EASY: later starts in the decision are backfill around it), when no due item holds one
  (:func:`reserve_whole`).
- ``calm_defragment_after`` a: ``defragment``'s claimant needs to have waited only a times
  its estimate (instead of ``defragment_after``): at low load a node made by moving work
  costs restarts but holds no queue back.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from airfoil.scheduler import _reasons

if TYPE_CHECKING:
    from airfoil.scheduler._airfoil import AirfoilPolicy
    from airfoil.scheduler._round import Round
    from airfoil.scheduler._state import RunningEntry, SchedulerState, WaitingEntry

__all__ = [
    "defragment_after",
    "is_calm",
    "lost_too_much",
    "problems",
    "reserve_whole",
    "whole_last",
]


def problems(policy: AirfoilPolicy) -> list[str]:
    """What is wrong with the calm settings of ``policy`` (empty: nothing)."""
    found = []
    if policy.calm_queue is not None and not 0 < policy.calm_queue < math.inf:
        found.append(f"calm_queue must be a positive number or None, got {policy.calm_queue}")
    for name in ("calm_lost_limit", "calm_reserve_after", "calm_defragment_after"):
        value = getattr(policy, name)
        if value is not None and not 0 <= value < math.inf:
            found.append(f"{name} must be a finite number >= 0 or None, got {value}")
    return found


def is_calm(state: SchedulerState, bar: float | None) -> bool:
    """Whether all waiting work asks for fewer than ``bar`` times the cluster's GPUs
    (``None``: never calm). Stops at the bar: a long queue costs as many items."""
    if bar is None:
        return False
    limit = bar * state.totals[2]
    asked = 0
    waiting = state.waiting
    for key in state.order:
        entry = waiting[key[4]]
        asked += entry.demand[2] * entry.workers
        if asked >= limit:
            return False
    return True


def lost_too_much(run: RunningEntry, limit: float, now: float, gpus: int = 0) -> bool:
    """Whether the single worker ``run`` (of at least ``gpus`` GPUs), preempted before and
    within its estimate, has waited at least ``limit`` times its whole estimate
    (``calm_lost_limit``; ``calm_lost_whole``: ``gpus`` is the largest node's)."""
    entry = run.entry
    if entry.workers != 1 or entry.item.preempted < 1 or now - run.start >= entry.estimate:
        return False
    if entry.demand[2] < gpus:
        return False
    waited = run.start - entry.item.submit_time - entry.done
    return waited >= limit * (entry.done + entry.estimate)


def whole_last(pool: list[RunningEntry], entry: WaitingEntry, largest: int) -> list[RunningEntry]:
    """``pool`` with single workers that need ``largest`` GPUs moved to its end, for a
    claimant ``entry`` of fewer GPUs (``calm_whole_last``); else ``pool`` as it is."""
    if largest <= 0 or entry.demand[2] >= largest:
        return pool
    whole = [run for run in pool if run.entry.workers == 1 and run.entry.demand[2] >= largest]
    if not whole:
        return pool
    return [
        run for run in pool if not (run.entry.workers == 1 and run.entry.demand[2] >= largest)
    ] + whole


def defragment_after(policy: AirfoilPolicy, calm: bool) -> float | None:
    """``defragment``'s ``after``: ``calm_defragment_after`` while calm, when set."""
    if calm and policy.calm_defragment_after is not None:
        return policy.calm_defragment_after
    return policy.defragment_after


def reserve_whole(rnd: Round, policy: AirfoilPolicy, served: set[str]) -> None:
    """Start or reserve for the first long-waiting whole-node single (``calm_reserve_after``).

    Only while calm (the caller checks), so the queue walked here is short."""
    state, now = rnd.state, rnd.now
    after = policy.calm_reserve_after
    if after is None or len(rnd.reservations) >= policy.max_reservations:
        return
    whole = state.largest[2]
    if whole <= 0:
        return
    waiting = state.waiting
    for key in state.order:
        entry = waiting[key[4]]
        item = entry.item
        if entry.workers != 1 or entry.demand[2] < whole or item.id in served:
            continue
        if entry.reserve_from is not None and entry.reserve_from <= now:
            continue  # due: the due pass had it
        waited = now - item.submit_time - entry.done
        if waited < after * entry.estimate:
            continue
        served.add(item.id)
        reason = rnd.try_start(entry)
        if reason is None or rnd.blocked_by_quota:
            if reason is not None:
                rnd.wait(entry, reason)
            return
        reservation = rnd.reserve(entry, policy.overrun)
        if reservation is not None:
            reason = _reasons.in_reservation(reservation.at, now)
        rnd.wait(entry, reason)
        return
