"""The cap on work started as due, for ``AirfoilPolicy.due_share`` (point 5 of its rules).

Work started as due (gangs, items past their starvation bound) is never preempted, so
:class:`DueGuard` keeps it within ``share`` of the cluster's CPUs, memory and GPUs. Due items
start in the order the passes meet them while that work stays within the cap. Once one due
item is held back, every later one is too (``closed``), so a large due item is not passed for
ever by smaller ones; and when no work started as due runs, a due item may start whatever
its size, so an item larger than the cap is never held back for ever.

And a budget on how long due gangs hold the cluster (twenty-second session): ``gang_hours``
h, the most GPU-time due gangs may be expected to hold, in hours of the whole
cluster's GPUs (``h x GPUs x 3600`` GPU-seconds). A running due gang counts its GPUs times
its expected time left (none once past its estimate), a waiting one its GPUs times its
estimate: a 60 h gang of 16 GPUs is not a 2 h one, though both hold 16 GPUs. A gang over the
budget holds back later gangs only, and one may start whatever its length when no due gang
runs. With ``gang_queue``, the budget applies only while the waiting work asks for at least
that many times the cluster's GPUs (a long queue of other work behind the gangs; at low load
the gangs are not held), and with ``gang_others`` only the waiting work of other projects
than the gang's counts (the queue of other tenants' work behind the gangs; twenty-seventh
session).

``gang_scale`` k (3 in ``AirfoilPolicy``; twenty-fifth session) makes that budget scale with
the gangs: k times the mean GPUs x estimate of the gangs submitted so far (the state's
history, :attr:`SchedulerState.gang_gpu_seconds_seen`), or with ``gang_hours`` the larger
of the two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airfoil.scheduler._state import SchedulerState, WaitingEntry

__all__ = ["DueGuard"]


class DueGuard:
    """Caps the share of the cluster that work started as due may hold (see the module)."""

    __slots__ = (
        "_any",
        "_gang_budget",
        "_gang_runs",
        "_gang_work",
        "_gangs_closed",
        "_limit",
        "_now",
        "_others",
        "_queue_bar",
        "_reached",
        "_relaxed",
        "_state",
        "_used",
        "closed",
        "reason",
    )

    def __init__(
        self,
        share: float,
        state: SchedulerState,
        now: float = 0.0,
        *,
        gang_queue: float | None = None,
        gang_hours: float | None = None,
        gang_scale: float | None = None,
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
        # the gangs' budget (without it ``blocks`` is the plain cap)
        self._gang_budget = _budget(state, gang_hours, gang_scale)
        budget = self._gang_budget
        self._relaxed = budget is not None
        self._now = now
        self._state = state
        self._gangs_closed = False  # every later due gang is held back
        # whether a gang started as due runs
        self._gang_runs = False
        # the due gangs' expected GPU-seconds left, against ``_gang_budget``
        self._gang_work = 0.0
        # ``gang_queue``: the waiting GPUs the gang budget needs to apply (``None``: always)
        self._queue_bar: float | None = (
            gang_queue * state.totals[2] if gang_queue is not None else None
        )
        # ``gang_others``: only other projects' waiting work counts towards that bar
        self._others = gang_others
        # whether the bar is reached, by the project whose work does not count (``None``:
        # the whole queue counts), walked at most once each a decision
        self._reached: dict[str | None, bool] = {}
        if budget is not None:
            for run in state.due_running.values():
                entry = run.entry
                due = entry.reserve_from
                if due is not None and run.start >= due and entry.workers > 1:
                    self._gang_runs = True
                    self._gang_work += (
                        entry.demand[2] * entry.workers * max(run.end_key[0] - now, 0.0)
                    )

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
        """:meth:`blocks` with the gangs' budget set."""
        w = entry.workers
        if self._gangs_closed and w > 1:
            return True
        c, m, g = entry.demand
        need = (c * w, m * w, g * w)
        budget = self._gang_budget
        if (
            w > 1
            and budget is not None
            and self._gang_runs
            and self._gang_work + need[2] * entry.estimate > budget
            and self._applies(entry)
        ):
            self._gangs_closed = True  # later gangs wait too; single workers do not
            return True
        if not self._any:
            return False
        used, limit = self._used, self._limit
        over = used[0] + need[0] > limit[0] or used[1] + need[1] > limit[1]
        over = over or used[2] + need[2] > limit[2]
        if not over:
            return False
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
        if self._relaxed and w > 1:
            self._gang_runs = True
            self._gang_work += g * w * entry.estimate

    def _applies(self, entry: WaitingEntry) -> bool:
        """Whether the gangs' budget applies now to the gang ``entry``: behind a long queue
        (``gang_queue``; with ``gang_others``, of other projects' work)."""
        bar = self._queue_bar
        if bar is None or bar <= 0:
            return True
        besides = entry.project if self._others else None
        reached = self._reached.get(besides)
        if reached is None:
            reached = self._reached[besides] = _asks_at_least(self._state, bar, besides)
        return reached


def _asks_at_least(state: SchedulerState, bar: float, besides: str | None) -> bool:
    """Whether the waiting work, but project ``besides``'s, asks for ``bar`` GPUs at least
    (a walk of the queue that stops at the bar)."""
    asked = 0
    for entry in state.waiting.values():
        if entry.project != besides:
            asked += entry.demand[2] * entry.workers
            if asked >= bar:
                return True
    return False


def _budget(state: SchedulerState, hours: float | None, scale: float | None) -> float | None:
    """The due gangs' budget in GPU-seconds (``None``: none): ``hours`` of the cluster's
    GPUs, ``scale`` times the mean gang submitted so far, or the larger of the two."""
    budgets: list[float] = []
    if hours is not None:
        budgets.append(hours * 3600.0 * state.totals[2])
    if scale is not None and state.gangs_seen:  # a gang it checks was submitted: one at least
        budgets.append(scale * state.gang_gpu_seconds_seen / state.gangs_seen)
    return max(budgets) if budgets else None
