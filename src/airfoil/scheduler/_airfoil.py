"""The default policy, ``airfoil``: least attained service, with gangs served first.

1. **Gangs are served first.** A gang (more than one worker) that has waited ``gang_after``
   seconds is *due*: due items go before anything else, in the order they became due. A due
   item is started if it fits; else, for a gang, room is made by preempting interruptible
   running work (the highest service level first, then the most expected work left); else
   it gets a reservation on definite nodes at the earliest time running work is expected to
   free them (up to ``max_reservations`` at once) and everything else is EASY backfill
   around it. Once the reservations are taken, a due gang still starts or makes room (it
   only does not reserve). A gang
   that waits for several whole nodes to be free at once starves under any policy that lets
   small work pass it (``fifo-skip``, ``fair``, ``las``); this is what bounds its wait.
2. **A starvation bound for everything else.** A single-worker item becomes due the same way
   once it has waited ``starve_after`` times its estimated run time (at least
   ``starve_floor`` seconds of estimate), so long jobs at a high service level are not
   passed for ever by a stream of fresh work. The time it waited is the time since it was
   submitted less the time it ran (its attained service over its rate): work preempted
   after running for days has not starved, and becoming due at once it would restart as
   work nothing may preempt. It does not preempt: it holds a reservation,
   placed expecting running work past its estimate to run ``overrun`` times as long as it
   has so far (not to end at once: that put the reservation on nodes overrunning work kept).
3. **Everything else is least attained service** (Tiresias-style discretised LAS): an item's
   level is its attained service (GPU-seconds, or CPU-seconds for CPU-only work, summed over
   its workers and earlier attempts) against ``thresholds``; lower levels go first, then
   higher priorities. Where quotas are set, projects then take turns by dominant-resource
   fairness (the project with the lowest weighted share now goes next, as in ``fair``);
   without quotas no project has a stated share and the order is global. Last comes
   ``submit_time + stretch x estimate``. An
   item that does not fit may preempt interruptible running work at a *higher* level (the
   highest level first and, within it, the most expected work left, at most
   ``max_preemptions`` per decision). LAS needs no run-time estimate to order levels, so
   its mean completion time holds up when estimates are wrong. With ``preempt_ratio`` (1 by
   default), a victim must also be expected to run at least that many times the claimant's
   estimate longer (shortest remaining work first between the two), unless it already ran
   past its own estimate: an estimate that proved wrong says nothing about the work left,
   so such work is a victim as under plain LAS (the last of its level). Unless
   ``whole_node_swaps``, a single worker that needs a whole node (all the GPUs of the
   largest node) does not preempt another such worker: it would only take its place, and
   the victim, to restart, needs a whole node again, which smaller work rarely leaves free.
   Within the last level (everything past the last threshold) there is no higher level to
   take from, so with ``srpt_ratio`` (2 by default) an item of that level may preempt that
   level's running work expected to run at least ``srpt_ratio`` times its estimate longer
   (shortest remaining work first; not work past its estimate, whose work left is unknown),
   but only while that level's waiting work asks for at least ``srpt_queue`` (2) times the
   cluster's GPUs, and (``srpt_one_victim``) only a victim that alone makes room for it: at
   low load the order of a short queue gains little and moved the wait onto other long jobs.
4. **What is never preempted:** work that is not interruptible; work started as due (a gang,
   or an item past its starvation bound), so that the protection is not undone a moment
   later; work of higher priority than the claimant; and, when quotas are set, work a
   project runs within its nominal quota. Projects within their nominal quota also
   **reclaim** borrowed interruptible work of other projects, as in ``fair``.
5. **Due work holds at most ``due_share`` of the cluster.** Since nothing preempts it, due
   work that filled the cluster (long gangs, overrunning starving items) left short work
   nowhere to run for as long as it ran. A due item whose start would take the work started
   as due above ``due_share`` of the cluster's CPUs, memory or GPUs waits (no preemption,
   no reservation) until such work ends, and so does every item that became due after it;
   when no work started as due runs, a due item starts whatever its size. Due gangs may
   also be expected to hold at most ``due_gang_hours`` hours of the whole cluster's GPUs,
   or ``due_gang_scale`` mean gangs seen if more (GPUs x expected time left; a gang over
   it holds back later gangs only), while other projects' waiting work asks for at least
   ``due_gang_queue`` (1) times the cluster's GPUs (``due_gang_others``).
6. **Placement is best fit on the GPUs free now.**
7. **Defragmentation by migration** (``defragment``): at the end of a decision, a waiting
   whole-node single worker that has waited its estimate, when the idle GPUs add up to a
   node but no node has them, starts on a node whose running single workers are moved
   (preempted, to restart at once on that idle room); never while due work waits.

docs/scheduling.md gives the figures and why each setting has its value.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from airfoil.scheduler import _reasons, _settle
from airfoil.scheduler._defrag import Guard as DefragGuard
from airfoil.scheduler._defrag import defragment
from airfoil.scheduler._due_guard import DueGuard
from airfoil.scheduler._errors import InvalidPolicyError
from airfoil.scheduler._fair import borrowed_victims
from airfoil.scheduler._policy import Policy
from airfoil.scheduler._round import Round
from airfoil.scheduler._settle import due_shapes_left, next_unsettled, shortest_fails_too
from airfoil.scheduler._victims import Victims

if TYPE_CHECKING:
    from airfoil.scheduler._model import Decision, WorkItem
    from airfoil.scheduler._state import QueueKey, RunningEntry, SchedulerState, Shape, WaitingEntry

__all__ = ["AirfoilPolicy"]

_NEXT_ROUND_S = 1e-3
"""How soon a decision that hit ``max_preemptions`` asks for the next one."""


@dataclass(frozen=True, slots=True)
class AirfoilPolicy(Policy):
    """Discretised LAS with preemption, gangs served first, a starvation bound, reclaim.

    Attributes:
        thresholds: attained service (resource-seconds) at which an item moves to the next
            level; ascending.
        stretch: within a level, an item ranks by ``submit_time + stretch x estimate``
            (0: first come, first served).
        gang_after: seconds a gang waits before it is due (served first, with preemption
            and a reservation).
        starve_after: a single-worker item is due once it waited this many times its
            estimate (``None``: never).
        starve_floor: the smallest estimate, seconds, ``starve_after`` is applied to.
        max_reservations: how many due items may hold reservations at once.
        max_preemptions: at most this many items are preempted by one decision; the next
            decision, asked for at once through ``wake_at``, goes on.
        reclaim: preempt borrowed interruptible work to give projects their nominal quota.
        overrun: for the reservation of a starving single-worker item, running work past
            its estimate is expected to run this many times as long as it has run so far
            (``None``: to end now, as for gangs; see
            :func:`~airfoil.scheduler._estimator.overrun_end`).
        due_share: the largest share of the cluster (of each of CPUs, memory, GPUs) work
            started as due may hold (``None``: no cap); see point 5 above.
        preempt_ratio: in the least-attained-service pass, an item preempts only running
            work expected to run at least this many times its own estimate longer, so a
            long claimant does not stop work that would have ended before it; work past
            its estimate stays a victim whatever the claimant (``None``: any higher level,
            plain LAS). ``1.0`` by default, chosen on week 45 (docs/scheduling.md).
        whole_node_swaps: in the least-attained-service pass, let a single worker that
            needs a whole node preempt another such worker (``False`` by default, chosen
            on week 45: docs/scheduling.md); gangs still make room from any victim.
        srpt_ratio: an item of the last level may preempt that level's running work
            expected to run at least this many times its estimate longer (not work past its
            estimate): shortest remaining work first within the last level (``None``: no
            preemption within a level). ``2.0`` by default, with the two guards below,
            chosen on week 45 (docs/scheduling.md, sixteenth session).
        srpt_queue: with ``srpt_ratio``, that rule applies only while the waiting work of
            the last level asks for at least this many times the cluster's GPUs (``None``:
            always); ``2.0`` by default.
        srpt_one_victim: with ``srpt_ratio``, that rule preempts only a victim that alone
            makes room for the claimant's one worker, never a second one (and none for a
            claimant of several workers); ``True`` by default.
        defragment: at the end of a decision, start a waiting single worker that the idle
            capacity adds up to but no node holds by moving running work onto that idle room
            (preempted, to restart there at once; see :mod:`airfoil.scheduler._defrag`).
            ``True`` by default, with the guards below as set by default, chosen on week 45
            (docs/scheduling.md, seventeenth session, second round).
        defragment_whole_only: with ``defragment``, only workers that need all the GPUs of
            the largest node claim; ``True`` by default.
        defragment_spare_due: with ``defragment``, no move while a due item (a gang, a
            starving job) or any gang waits; ``True`` by default.
        defragment_after: with ``defragment``, only a worker that has waited this many times
            its estimate (since its submit) claims (``None``: any); ``1.0`` by default.
        due_gang_queue: with ``due_gang_hours`` or ``due_gang_scale``, that budget applies only
            while the waiting work asks for at least this many times the cluster's GPUs
            (``1.0`` by default, with ``due_gang_others``; ``None``: always).
        due_gang_hours: with ``due_share``, the most GPU-time due gangs may be expected to
            hold, in hours of the whole cluster (GPUs x estimate left; ``36.0`` by default,
            chosen on week 45 in the twenty-second session; ``None``: no budget); a gang
            held by it holds back later gangs only.
        due_gang_scale: a budget of this many times the mean GPU-time (GPUs x estimate) of
            the gangs submitted so far, or the larger of it and ``due_gang_hours``'s (``3.0``
            by default, twenty-fifth session; ``None``: hours alone).
        due_gang_others: with ``due_gang_queue``, only the waiting work of other projects
            than the gang's counts towards that queue (``True`` by default, twenty-seventh
            session: the budget protects other tenants' work, not a tenant's own).
        shield_preempted, shield_done, shield_waited, shield_queue: running work that is no
            victim of any preemption (off by default; twenty-ninth session, not adopted):
            an item preempted at least ``shield_preempted`` times; one that did at least
            ``shield_done`` of its estimate and has not run past it; one that waited at
            least ``shield_waited`` times its estimate; any of them only while the waiting
            work asks for less than ``shield_queue`` times the cluster's GPUs
            (:mod:`airfoil.scheduler._shield`).
    """

    name: ClassVar[str] = "airfoil"
    thresholds: tuple[float, ...] = (3600.0,)
    stretch: float = 4.0
    gang_after: float = 0.0
    starve_after: float | None = 12.0
    starve_floor: float = 3600.0
    max_reservations: int = 1
    max_preemptions: int = 64
    reclaim: bool = True
    overrun: float | None = 2.0
    due_share: float | None = 0.875
    preempt_ratio: float | None = 1.0
    whole_node_swaps: bool = False
    srpt_ratio: float | None = 2.0
    srpt_queue: float | None = 2.0
    srpt_one_victim: bool = True
    defragment: bool = True
    defragment_whole_only: bool = True
    defragment_spare_due: bool = True
    defragment_after: float | None = 1.0
    due_gang_queue: float | None = 1.0
    due_gang_hours: float | None = 36.0
    due_gang_scale: float | None = 3.0
    due_gang_others: bool = True
    shield_preempted: int | None = None
    shield_done: float | None = None
    shield_waited: float | None = None
    shield_queue: float | None = None

    def __post_init__(self) -> None:
        problems = []
        if not all(t > 0 for t in self.thresholds) or list(self.thresholds) != sorted(
            set(self.thresholds)
        ):
            problems.append(f"thresholds must be positive and ascending, got {self.thresholds}")
        for name in ("stretch", "gang_after", "starve_floor"):
            if not getattr(self, name) >= 0:
                problems.append(f"{name} must not be negative, got {getattr(self, name)}")
        if self.starve_after is not None and not self.starve_after > 0:
            problems.append(f"starve_after must be positive or None, got {self.starve_after}")
        if self.max_reservations < 0:
            problems.append(f"max_reservations must not be negative, got {self.max_reservations}")
        if self.max_preemptions < 1:
            problems.append(f"max_preemptions must be at least 1, got {self.max_preemptions}")
        if self.overrun is not None and not self.overrun >= 1:
            problems.append(f"overrun must be at least 1 or None, got {self.overrun}")
        if self.preempt_ratio is not None and not 0 <= self.preempt_ratio < math.inf:
            problems.append(
                f"preempt_ratio must be a finite number >= 0 or None, got {self.preempt_ratio}"
            )
        if self.srpt_ratio is not None and not 1 <= self.srpt_ratio < math.inf:
            problems.append(
                f"srpt_ratio must be a finite number >= 1 or None, got {self.srpt_ratio}"
            )
        if self.srpt_queue is not None and not 0 <= self.srpt_queue < math.inf:
            problems.append(
                f"srpt_queue must be a finite number >= 0 or None, got {self.srpt_queue}"
            )
        if self.defragment_after is not None and not 0 <= self.defragment_after < math.inf:
            problems.append(
                "defragment_after must be a finite number >= 0 or None, "
                f"got {self.defragment_after}"
            )
        if self.due_share is not None and not 0 < self.due_share <= 1:
            problems.append(f"due_share must be in (0, 1] or None, got {self.due_share}")
        if self.due_gang_queue is not None and not 0 <= self.due_gang_queue < math.inf:
            problems.append(
                f"due_gang_queue must be a finite number >= 0 or None, got {self.due_gang_queue}"
            )
        if self.due_gang_hours is not None and not 0 < self.due_gang_hours < math.inf:
            problems.append(
                f"due_gang_hours must be positive and finite or None, got {self.due_gang_hours}"
            )
        if self.due_gang_scale is not None and not 0 < self.due_gang_scale < math.inf:
            problems.append(
                f"due_gang_scale must be positive and finite or None, got {self.due_gang_scale}"
            )
        if self.shield_preempted is not None and self.shield_preempted < 1:
            problems.append(
                f"shield_preempted must be at least 1 or None, got {self.shield_preempted}"
            )
        for name in ("shield_done", "shield_waited", "shield_queue"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < math.inf:
                problems.append(f"{name} must be a finite number >= 0 or None, got {value}")
        if problems:
            raise InvalidPolicyError("airfoil policy: " + "; ".join(problems))

    def band(self, item: WorkItem) -> int:
        """The item's service level."""
        return bisect_right(self.thresholds, item.attained)

    def rank(self, item: WorkItem, estimate: float) -> float:
        """Within a level: ``submit_time + stretch x estimate``."""
        return item.submit_time + self.stretch * estimate

    def reserve_from(self, item: WorkItem, estimate: float, node_share: float) -> float | None:
        """When the item is due: a gang after ``gang_after``, others past the starvation bound."""
        if item.gang_size > 1:
            return item.submit_time + self.gang_after
        if self.starve_after is not None:
            # the bound is on time waited: the time it ran (earlier attempts) does not count
            return (
                item.submit_time
                + _time_run(item)
                + self.starve_after * max(estimate, self.starve_floor)
            )
        return None

    def decide(self, state: SchedulerState, now: float, *, explain: bool = True) -> Decision:
        """See :meth:`Policy.decide`."""
        rnd = Round(state, now, explain)
        if not state.order:
            return rnd.decision()
        victims = Victims(self, rnd, state.order[0][0])
        guard = (
            DueGuard(
                self.due_share,
                state,
                now,
                gang_queue=self.due_gang_queue,
                gang_hours=self.due_gang_hours,
                gang_scale=self.due_gang_scale,
                gang_others=self.due_gang_others,
            )
            if self.due_share is not None
            else None
        )
        served = self._due_pass(rnd, victims, guard)
        self._las_pass(rnd, victims, served, guard)
        if self.defragment:
            allowed = DefragGuard(
                self.defragment_spare_due,
                self.defragment_after,
            )
            defragment(
                rnd, self.max_preemptions, self.defragment_whole_only, _NEXT_ROUND_S, allowed
            )
        return rnd.decision()

    def _due_pass(self, rnd: Round, victims: Victims, guard: DueGuard | None) -> set[str]:
        """Serve due items first: start, make room, or reserve."""
        state, now = rnd.state, rnd.now
        served: set[str] = set()
        lenders_only = bool(state.nominal)
        # (shape, priority) of gangs that could not make room: victims and free room only
        # shrink in a round, so once the reservations are taken a later gang of both is left
        # to the LAS pass (one that would end before a reservation might have fitted: it is
        # tried there in its turn, and in later decisions); this keeps many due gangs cheap
        no_room: set[tuple[Shape, int]] = set()
        reservable = state.due_reservable(now)
        gangs = state.reservable_gangs
        # once the reservations are taken and every due gang's (shape, priority) failed to
        # make room (or the preemptions are used up), every due item left only "continues"
        # below: skip to the first one not yet due (checked again only when that can change)
        settled = (-1, -1)
        for due, _, item_id in reservable:
            if due > now:
                rnd.wake(due)
                break
            full = len(rnd.reservations) >= self.max_reservations
            if full and (len(no_room), len(rnd.preempted)) != settled:
                if len(rnd.preempted) >= self.max_preemptions or no_room.issuperset(gangs):
                    later = bisect_right(reservable, now, key=_due_of)
                    first = reservable[later][0] if later < len(reservable) else None
                    if first is None:
                        first = state.next_reservable()
                    if first is not None:
                        rnd.wake(first)
                    break
                settled = (len(no_room), len(rnd.preempted))
            entry = state.waiting[item_id]
            tried = (entry.shape, entry.item.priority)
            if full and (
                entry.workers == 1 or tried in no_room or len(rnd.preempted) >= self.max_preemptions
            ):
                continue  # nothing left to try here: the LAS pass takes it in its turn
            served.add(item_id)
            if guard is not None and guard.blocks(entry):
                rnd.wait(entry, guard.reason)
                continue
            reason = rnd.try_start(entry)
            if reason is None:
                if guard is not None:
                    guard.add(entry)
                continue
            if not rnd.blocked_by_quota:
                # a gang still makes room when the reservations are taken (by a starving
                # single, say): it is never held up behind one
                if (
                    entry.workers > 1
                    and tried not in no_room
                    and len(rnd.preempted) < self.max_preemptions
                ):
                    if rnd.make_room(entry, victims.indexed(entry), lenders_only=lenders_only):
                        if guard is not None:
                            guard.add(entry)
                        continue
                    no_room.add(tried)
                reservation = None
                if not full:
                    reservation = rnd.reserve(entry, self.overrun if entry.workers == 1 else None)
                if reservation is not None:
                    reason = _reasons.in_reservation(reservation.at, now)
            rnd.wait(entry, reason)
        else:  # every item in reservable was due: wake for the first one that is not
            first = state.next_reservable()
            if first is not None:
                rnd.wake(first)
        return served

    def _las_pass(
        self, rnd: Round, victims: Victims, served: set[str], guard: DueGuard | None
    ) -> None:
        """Least attained service over the rest of the queue, preempting higher levels."""
        state, now = rnd.state, rnd.now
        waiting = state.waiting
        lenders_only = bool(state.nominal)
        can_reclaim = self.reclaim and lenders_only
        reclaim_failed: set[tuple[str, Shape]] = set()
        borrowed: dict[str, list[RunningEntry]] = {}
        top = victims.top
        # srpt_ratio: the last level's items may also preempt that level's work (below)
        srpt = self.srpt_ratio
        reach = top + 1 if srpt is not None and top == len(self.thresholds) else top
        # srpt_queue: only while the last level's waiting work asks for that many clusters
        # (the order is sorted by level first: the last level is its tail)
        gpus = state.totals[2]
        queue = self.srpt_queue
        if (
            reach > top
            and queue is not None
            and not _asks_at_least(state, served, top, queue * gpus)
        ):
            reach = top
        largest_gpus = state.largest[2]
        # a shape that could not make room at some level cannot at that level or above
        # (with ``preempt_ratio``: with that estimate or a longer one)
        hopeless: dict[Shape, tuple[int, float]] = {}
        ratio = self.preempt_ratio
        stuck = False
        paused = False  # hit max_preemptions (and asked to be called again at once)
        max_preemptions = self.max_preemptions
        # with ``preempt_ratio``, once nothing fits and every shape failed to make room, only
        # an item shorter than its shape's failed claimant may still make room: skim for it
        skim = False
        # without caps or reclaim, a failed try_start of a shape in no_room is that reason
        lean = not state.limits and not can_reclaim
        # in the global order, a shape that failed to make room in the last level tried may be
        # found hopeless for every later item of it at once (see _shortest_fails_too)
        settle = lean and not state.quotas and _settle.ACTIVE
        shortest: dict[Shape, float] = {}
        due_shapes: set[Shape] | None = None
        settled = jumped = False  # a shape was settled (no due item waits); the walk jumped
        capped = guard is not None  # due items take the guard's branch
        no_room = rnd.no_room
        # without quotas the global order is the order: no generator in the hot loop
        order: Iterator[QueueKey] = _fair_order(rnd, served) if state.quotas else iter(state.order)
        # rnd.reasons is replaced only by explain_rest, after which this loop ends
        explain, reasons = rnd.explain, rnd.reasons
        preempted = rnd.preempted  # (never rebound in a round)
        for key in order:
            item_id = key[4]
            if item_id in served:
                continue
            entry = waiting[item_id]
            if skim:
                if key[0] >= reach:
                    rnd.explain_rest()
                    break
                hope = hopeless.get(entry.shape)
                if hope is not None and entry.estimate >= hope[1]:
                    continue  # it waits for room, explained in bulk at the end
                skim = False
            # an item of a shape nothing fits, that may not make room (preemptions used up,
            # no level above it, or its shape already failed with a shorter estimate) and is
            # not due, only waits for room: what try_start and the branches below conclude,
            # without them (most of the queue, once preemptions are used up)
            shape = entry.shape
            level = key[0]
            reason = no_room.get(shape) if lean else None
            if (
                reason is not None
                and (not capped or (due_at := entry.reserve_from) is None or due_at > now)
                and (
                    paused
                    or (
                        len(preempted) < max_preemptions
                        and (
                            level >= reach
                            or (
                                (hope := hopeless.get(shape)) is not None
                                and level >= hope[0]
                                and entry.estimate >= hope[1]
                            )
                        )
                    )
                )
            ):
                pass  # reason: its shape's "no room"
            else:
                # due: past its reserve_from (the LAS pass meets due items the due pass left)
                due = (
                    guard is not None
                    and entry.reserve_from is not None
                    and entry.reserve_from <= now
                )
                if due and guard is not None and guard.blocks(entry):
                    rnd.wait(entry, guard.reason)
                    continue
                why = rnd.try_start(entry)
                if why is None:
                    if due and guard is not None:
                        guard.add(entry)
                    if settle and not rnd.still_waits(shape):
                        # its shape waits no more, so exhausted() may turn true without a new
                        # shape failing: let it look again (its gate assumes the opposite;
                        # a moved job's restart left the pass walking the queue to its end).
                        # Not while due items wait: the walk gives them their own reason
                        if due_shapes is None:
                            due_shapes = due_shapes_left(rnd, served) if capped else set()
                        if not due_shapes:
                            rnd.fits_checked_at = -1
                    if hopeless and not stuck and not rnd.still_waits(shape):
                        # its shape waits no more: the rest may be hopeless now (see below)
                        stuck = _all_hopeless(rnd, hopeless, level)
                    continue
                reason = why
                if rnd.blocked_by_quota:
                    pass
                elif (
                    can_reclaim
                    and (entry.project, entry.shape) not in reclaim_failed
                    and rnd.within_nominal(entry)
                ):
                    candidates = borrowed.get(entry.project)
                    if candidates is None:
                        candidates = borrowed[entry.project] = borrowed_victims(rnd, entry.project)
                    if rnd.make_room(entry, candidates, lenders_only=True):
                        continue
                    reclaim_failed.add((entry.project, entry.shape))
                if rnd.blocked_by_quota:
                    pass
                elif len(rnd.preempted) >= max_preemptions:
                    # enough preempted for one decision: the next one goes on at once
                    if not paused:
                        rnd.wake(now + _NEXT_ROUND_S)
                        paused = True
                        reach = top  # no more preemption: the last level only waits, as before
                    stuck = True
                elif level < reach and (
                    (hope := hopeless.get(entry.shape)) is None
                    or level < hope[0]
                    or entry.estimate < hope[1]
                ):
                    # (ratio 0: any work left; never 0 x inf, a NaN no victim compares with)
                    whole = not self.whole_node_swaps and entry.demand[2] >= largest_gpus > 0
                    least: float | None
                    if level >= top:  # srpt: work of its own level left srpt x its estimate
                        least = srpt * entry.estimate if srpt else 0.0
                        pool = victims.for_claimant(
                            entry, level - 1, least, spare_whole_nodes=whole, past_estimate=False
                        )
                        if self.srpt_one_victim:
                            pool = _alone_making_room(rnd, entry, pool, lenders_only)
                    else:
                        least = None if ratio is None else ratio * entry.estimate if ratio else 0.0
                        pool = victims.for_claimant(entry, level, least, spare_whole_nodes=whole)
                    if victims.can_free(entry.demand) and rnd.make_room(
                        entry, pool, lenders_only=lenders_only
                    ):
                        continue
                    hopeless[entry.shape] = (level, entry.estimate if least else 0.0)
                    if least and settle and level == reach - 1:
                        if due_shapes is None:
                            due_shapes = due_shapes_left(rnd, served) if capped else set()
                        if shape not in due_shapes and shortest_fails_too(
                            rnd, victims, entry, level >= top, srpt, ratio, whole, shortest
                        ):
                            hopeless[shape] = (level, 0.0)
                            settled = not due_shapes
                    # once no waiting shape can make room at this level, nothing later in the
                    # queue (this level or above) can either: the rest only waits (a shape all
                    # of whose items started in this decision waits no more: without leaving
                    # it out, one such start, a moved job's restart say, kept the pass from
                    # ever concluding this and made it try every item of the queue)
                    stuck = _all_hopeless(rnd, hopeless, level)
            if explain:  # rnd.wait, inlined
                reasons[item_id] = reason
            if (
                (level >= reach or stuck)
                and not can_reclaim
                and len(no_room) != rnd.fits_checked_at  # else exhausted() is false
                and rnd.exhausted()
            ):
                if (
                    level < reach
                    and len(rnd.preempted) < max_preemptions
                    and any(hope[1] for hope in hopeless.values())
                ):
                    skim = True
                    continue
                rnd.explain_rest()
                break
            if settled:
                # every item up to the next one of a shape not settled only waits for room
                # (see next_unsettled): go straight to it, the rest explained in bulk
                settled = False
                if not stuck and not paused and len(rnd.preempted) < max_preemptions:
                    at = next_unsettled(rnd, hopeless, key, served)
                    if at is not None:
                        order.__setstate__(at)  # type: ignore[attr-defined]
                        jumped = True
        else:
            if skim or jumped:
                rnd.explain_rest()


def _all_hopeless(rnd: Round, hopeless: dict[Shape, tuple[int, float]], level: int) -> bool:
    """Whether every shape that still waits failed to make room at ``level`` or below."""
    return all(
        ((hope := hopeless.get(shape)) is not None and hope[0] <= level)
        or not rnd.still_waits(shape)
        for shape in rnd.state.shapes
    )


def _alone_making_room(
    rnd: Round, entry: WaitingEntry, pool: Iterable[RunningEntry], lenders_only: bool
) -> list[RunningEntry]:
    """The victims of ``pool`` that alone make room for ``entry``'s one worker on a node of
    theirs (``srpt_one_victim``); none for an item of several workers.

    Without reservations (per-node caps) or ``lenders_only``, :meth:`Round.make_room` takes
    the first of them, so only that one is looked for."""
    if entry.workers > 1:
        return []
    c, m, g = entry.demand
    fits = rnd.pool.fits_on
    preempted, draining = rnd.preempted, rnd.state.draining
    first = not rnd.reservations and not lenders_only
    kept = []
    for run in pool:
        item = run.entry.item
        if not item.interruptible or item.id in preempted:
            continue  # make_room skips these
        vc, vm, vg = run.entry.demand
        nodes = run.nodes
        for n in set(nodes) if len(nodes) > 1 else nodes:
            if n in draining:
                continue
            k = nodes.count(n)
            if fits(n, c - vc * k, m - vm * k, g - vg * k):
                kept.append(run)
                if first:
                    return kept
                break
    return kept


def _due_of(row: tuple[float, int, str]) -> float:
    return row[0]


def _time_run(item: WorkItem) -> float:
    """Seconds ``item`` ran in earlier attempts: its attained service over its rate (its
    GPUs, or its CPU cores if none, over all its workers; see ``service_rate``)."""
    resources = item.resources
    rate = item.gang_size * (resources.gpu or resources.cpu)
    return item.attained / rate if rate > 0 else 0.0


def _asks_at_least(state: SchedulerState, served: set[str], level: int, bar: float) -> bool:
    """Whether the waiting items of ``level`` and above, less those in ``served`` (the due
    pass's), ask for at least ``bar`` GPUs.

    What the state keeps per level, less what the due pass served: a walk of the queue
    stopping once the bar is reached concludes the same, the terms being >= 0."""
    asked = sum(gpus for at, gpus in state.asked_gpus.items() if at >= level)
    if asked >= bar:
        waiting = state.waiting
        for item_id in served:
            e = waiting.get(item_id)
            if e is not None and e.key[0] >= level:
                asked -= e.demand[2] * e.workers
    return asked >= bar


def _fair_order(rnd: Round, skip: set[str]) -> Iterator[QueueKey]:
    """The waiting keys by level, then priority, then the project with the lowest share.

    Dominant-resource fairness between projects within a level and priority: each time, the
    next item comes from the project whose weighted dominant share is lowest *now* (counting
    what this round started before), and within a project, in queue order. Levels never go
    down from one key to the next, since each project's queue is sorted by level first.
    """
    orders = rnd.state.project_order
    heap: list[tuple[int, int, float, str]] = []
    cursor: dict[str, int] = {}
    for project, queue in orders.items():
        i = _next_unskipped(queue, 0, skip)
        if i < len(queue):
            cursor[project] = i
            heap.append((queue[i][0], queue[i][1], rnd.share(project), project))
    heapq.heapify(heap)
    while heap:
        project = heapq.heappop(heap)[3]
        queue = orders[project]
        i = cursor[project]
        yield queue[i]
        i = _next_unskipped(queue, i + 1, skip)
        if i < len(queue):
            cursor[project] = i
            heapq.heappush(heap, (queue[i][0], queue[i][1], rnd.share(project), project))


def _next_unskipped(queue: list[QueueKey], i: int, skip: set[str]) -> int:
    while i < len(queue) and queue[i][4] in skip:
        i += 1
    return i
