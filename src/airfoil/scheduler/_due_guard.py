"""The cap on work started as due, for ``AirfoilPolicy.due_share`` (point 5 of its rules).

Work started as due (gangs, items past their starvation bound) is never preempted, so
:class:`DueGuard` keeps it within ``share`` of the cluster's CPUs, memory and GPUs. Due items
start in the order the passes meet them while that work stays within the cap. Once one due
item is held back, every later one is too (``closed``), so a large due item is not passed for
ever by smaller ones; and when no work started as due runs, a due item may start whatever
its size, so an item larger than the cap is never held back for ever.

Two optional relaxations of "every later one is too" (off by default; docs/scheduling.md,
twenty-first session):

- ``backfill``: EASY backfill within the cap. The first held item gets a *shadow time*: the
  earliest time the due work running (by its expected ends; work past its estimate is
  expected to end now) leaves room under the cap for it. A later due item that fits under
  the cap now still starts if it is expected to end by then, or if it fits in what the cap
  leaves beside the held item at that time (that room is then used up). So short due work
  (a starving job of minutes) no longer waits for as long as a due gang waits for the cap,
  and the held item's start under the cap is not expected to move.
- ``gangs_apart``: a held gang holds back later gangs only; due single workers still start
  while they fit under the cap (a held single worker still holds back everything after it).

And one tighter cap (off by default): ``gang_share``, the largest share due *gangs* may hold
(within ``share``); a gang it holds back holds back later gangs only, so the rest of the
cap stays for single workers past their starvation bound. As with the cap itself, a gang
may start whatever its size when no gang started as due runs. With ``gang_queue``, that cap
applies only while the waiting work asks for at least that many times the cluster's GPUs
(a long queue of other work behind the gangs; at low load the gangs are not held), and
with ``gang_others`` only the waiting work of other projects than the gang's counts (the
queue of other tenants' work behind the gangs; twenty-seventh session, off by default).

And a budget on how long due gangs hold the cluster (off by default; twenty-second session):
``gang_hours`` h, the most GPU-time due gangs may be expected to hold, in hours of the whole
cluster's GPUs (``h x GPUs x 3600`` GPU-seconds). A running due gang counts its GPUs times
its expected time left (none once past its estimate), a waiting one its GPUs times its
estimate: a 60 h gang of 16 GPUs is not a 2 h one, though both hold 16 GPUs. A gang over the
budget holds back later gangs only, one may start whatever its length when no due gang
runs, and ``gang_queue`` applies to this budget as to ``gang_share``.

``gang_scale`` k (3 in ``AirfoilPolicy``; twenty-fifth session) makes that budget scale with
the gangs: k times the mean GPUs x estimate of the gangs submitted so far (the state's
history, :attr:`SchedulerState.gang_gpu_seconds_seen`), or with ``gang_hours`` the larger
of the two.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airfoil.scheduler._state import SchedulerState, WaitingEntry

__all__ = ["DueGuard"]

Vector = tuple[int, int, int]


class DueGuard:
    """Caps the share of the cluster that work started as due may hold (see the module)."""

    __slots__ = (
        "_any",
        "_ends",
        "_extra",
        "_gang_budget",
        "_gang_limit",
        "_gang_runs",
        "_gang_used",
        "_gang_work",
        "_gangs_closed",
        "_limit",
        "_now",
        "_others",
        "_queue_bar",
        "_relaxed",
        "_shadow",
        "_starving",
        "_state",
        "_used",
        "backfill",
        "closed",
        "gangs_apart",
        "reason",
    )

    def __init__(
        self,
        share: float,
        state: SchedulerState,
        now: float = 0.0,
        *,
        backfill: bool = False,
        gangs_apart: bool = False,
        gang_share: float | None = None,
        gang_queue: float | None = None,
        gang_hours: float | None = None,
        gang_scale: float | None = None,
        gang_starving: bool = False,
        gang_others: bool = False,
    ) -> None:
        self._limit = [share * total for total in state.totals]
        uc = um = ug = 0
        for run in state.due_running.values():  # (as in ``running``)
            entry = run.entry
            due = entry.reserve_from
            if due is not None and run.start >= due:  # started as due
                c, m, g = entry.demand
                w = entry.workers
                uc += c * w
                um += m * w
                ug += g * w
        used = [uc, um, ug]
        self._used = used
        self._any = any(used)
        self.closed = False  # every later due item is held back
        self.reason = (
            f"due work (gangs, jobs past their starvation bound) may hold at most "
            f"{share:.0%} of the cluster, and this would pass it: it starts as such work ends"
        )
        # the relaxations (all off by default: then ``blocks`` is the plain cap)
        self._gang_budget = _budget(state, gang_hours, gang_scale)
        budget = self._gang_budget
        self._relaxed = backfill or gangs_apart or gang_share is not None or budget is not None
        self.backfill = backfill
        self.gangs_apart = gangs_apart
        self._now = now
        self._state = state
        self._gangs_closed = False  # every later due gang is held back
        self._shadow: float | None = None  # ``backfill``: set once an item is held
        self._extra: list[float] = []
        # (expected end, demand) of work started as due: only for ``backfill``'s shadow time
        self._ends: list[tuple[float, Vector]] = []
        self._gang_limit = (
            [gang_share * total for total in state.totals] if gang_share is not None else None
        )
        self._gang_used = [0, 0, 0]
        # whether a gang started as due runs (not ``any(_gang_used)``: a gang may ask nothing)
        self._gang_runs = False
        # the due gangs' expected GPU-seconds left, against ``_gang_budget``
        self._gang_work = 0.0
        # ``gang_starving``: whether a single worker past its starvation bound waits (``None``:
        # not looked for yet; ``True`` without the setting, so the gang caps always apply)
        self._starving: bool | None = None if gang_starving else True
        counts_gangs = gang_share is not None or budget is not None
        # ``gang_queue``: the waiting GPUs the gang cap needs to apply (``None``: always;
        # 0 once found to be reached, so the queue is summed at most once a decision)
        self._queue_bar: float | None = (
            gang_queue * state.totals[2] if gang_queue is not None else None
        )
        # ``gang_others``: per project, whether other projects' waiting work reaches the
        # bar (looked up when first needed; ``None``: the whole queue counts)
        self._others: dict[str, bool] | None = {} if gang_others else None
        if backfill or counts_gangs:
            for run in state.due_running.values():
                entry = run.entry
                due = entry.reserve_from
                if due is not None and run.start >= due:
                    c, m, g = entry.demand
                    w = entry.workers
                    if w > 1 and counts_gangs:
                        self._count_gang(c * w, m * w, g * w)
                        self._gang_work += g * w * max(run.end_key[0] - now, 0.0)
                    if backfill:
                        self._ends.append((max(run.end_key[0], now), (c * w, m * w, g * w)))

    def blocks(self, entry: WaitingEntry) -> bool:
        """Whether the due ``entry`` must wait (it then holds back later ones: see the module)."""
        if self.closed:
            return True
        if self._relaxed:
            return self._relaxed_blocks(entry)
        if not self._any:
            return False
        w = entry.workers
        c, m, g = entry.demand
        used, limit = self._used, self._limit
        self.closed = (
            used[0] + c * w > limit[0] or used[1] + m * w > limit[1] or used[2] + g * w > limit[2]
        )
        return self.closed

    def _relaxed_blocks(self, entry: WaitingEntry) -> bool:
        """:meth:`blocks` with ``backfill``, ``gangs_apart`` or ``gang_share`` set."""
        w = entry.workers
        if self._gangs_closed and w > 1:
            return True
        c, m, g = entry.demand
        need = (c * w, m * w, g * w)
        gang_limit = self._gang_limit
        if w > 1 and gang_limit is not None and self._gang_runs:
            gang_used = self._gang_used
            if any(gang_used[d] + need[d] > gang_limit[d] for d in range(3)) and self._applies(
                entry
            ):
                self._gangs_closed = True  # later gangs wait too; single workers do not
                return True
        budget = self._gang_budget
        if (
            w > 1
            and budget is not None
            and self._gang_runs
            and self._gang_work + need[2] * entry.estimate > budget
            and self._applies(entry)
        ):
            self._gangs_closed = True  # as for ``gang_share``
            return True
        if not self._any:
            return False
        used, limit = self._used, self._limit
        over = used[0] + need[0] > limit[0] or used[1] + need[1] > limit[1]
        over = over or used[2] + need[2] > limit[2]
        shadow = self._shadow
        if shadow is not None:  # backfill behind the held item
            if over:
                return True
            if self._now + entry.estimate <= shadow:
                return False
            extra = self._extra
            if need[0] <= extra[0] and need[1] <= extra[1] and need[2] <= extra[2]:
                extra[0] -= need[0]
                extra[1] -= need[1]
                extra[2] -= need[2]
                return False
            return True
        if not over:
            return False
        if self.gangs_apart and w > 1:
            self._gangs_closed = True
            return True
        if self.backfill:
            self._set_shadow(need)
        if self._shadow is None:
            self.closed = True
        return True

    def add(self, entry: WaitingEntry) -> None:
        """Count the due ``entry``, just started, against the cap."""
        w = entry.workers
        c, m, g = entry.demand
        used = self._used
        used[0] += c * w
        used[1] += m * w
        used[2] += g * w
        self._any = True
        if self._relaxed:
            if w > 1 and (self._gang_limit is not None or self._gang_budget is not None):
                self._count_gang(c * w, m * w, g * w)
                self._gang_work += g * w * entry.estimate
            if self.backfill and self._shadow is None:
                self._ends.append((self._now + entry.estimate, (c * w, m * w, g * w)))

    def _applies(self, entry: WaitingEntry) -> bool:
        """Whether the gang caps apply now to the gang ``entry``: behind a long queue
        (``gang_queue``; with ``gang_others``, of other projects' work) and, with
        ``gang_starving``, while a single worker past its starvation bound waits."""
        if self._others is not None:
            return self._others_queue(entry.project) and self._starving_waits()
        return self._long_queue() and self._starving_waits()

    def _starving_waits(self) -> bool:
        """Whether a single worker past its starvation bound waits (looked up once)."""
        if self._starving is None:
            state, now = self._state, self._now
            self._starving = False
            for due, _, item_id in state.due_reservable(now):
                if due > now:
                    break
                if state.waiting[item_id].workers == 1:
                    self._starving = True
                    break
        return self._starving

    def _long_queue(self) -> bool:
        """Whether the waiting work asks for ``gang_queue`` times the cluster's GPUs."""
        bar = self._queue_bar
        if bar is None or bar <= 0:
            return True
        asked = 0
        for entry in self._state.waiting.values():
            asked += entry.demand[2] * entry.workers
            if asked >= bar:
                self._queue_bar = 0.0
                return True
        self._queue_bar = math.inf
        return False

    def _others_queue(self, project: str) -> bool:
        """Whether the waiting work of other projects than ``project`` asks for
        ``gang_queue`` times the cluster's GPUs (a walk of the queue stopping at the bar,
        once per project and decision)."""
        bar, known = self._queue_bar, self._others
        if bar is None or bar <= 0 or known is None:
            return True
        found = known.get(project)
        if found is None:
            asked = 0
            found = False
            for entry in self._state.waiting.values():
                if entry.project != project:
                    asked += entry.demand[2] * entry.workers
                    if asked >= bar:
                        found = True
                        break
            known[project] = found
        return found

    def _count_gang(self, c: int, m: int, g: int) -> None:
        self._gang_runs = True
        used = self._gang_used
        used[0] += c
        used[1] += m
        used[2] += g

    def _set_shadow(self, need: Vector) -> None:
        """The held item's shadow time and the room the cap leaves beside it then."""
        used = list(self._used)
        limit = self._limit
        for end, (c, m, g) in sorted(self._ends):
            used[0] -= c
            used[1] -= m
            used[2] -= g
            if all(used[d] + need[d] <= limit[d] for d in range(3)):
                self._shadow = end
                self._extra = [limit[d] - used[d] - need[d] for d in range(3)]
                return
        # it fits only once no due work runs (larger than the cap): nothing passes it
        self._shadow = None


def _budget(state: SchedulerState, hours: float | None, scale: float | None) -> float | None:
    """The due gangs' budget in GPU-seconds (``None``: none): ``hours`` of the cluster's
    GPUs, ``scale`` times the mean gang submitted so far, or the larger of the two."""
    budgets: list[float] = []
    if hours is not None:
        budgets.append(hours * 3600.0 * state.totals[2])
    if scale is not None and state.gangs_seen:  # a gang it checks was submitted: one at least
        budgets.append(scale * state.gang_gpu_seconds_seen / state.gangs_seen)
    return max(budgets) if budgets else None
