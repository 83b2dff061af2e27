"""Fair sharing between projects: the ``fair`` policy and the pass ``airfoil`` reuses.

Projects take turns by **dominant-resource fairness** (DRF): the next item to try comes from
the project whose dominant share (its largest fraction of the cluster's CPU, memory or GPUs,
divided by its quota weight) is lowest *now*, counting what this round already started.
Within a project, items go by priority, then submit time; an item that does not fit is passed.

Quotas (see :class:`~airfoil.scheduler.Quota`): a project may always use its ``nominal``
quota and may borrow idle capacity above it (up to its borrowing limit). When an item that is
within its project's nominal quota does not fit, the policy **reclaims**: it preempts
interruptible work of projects that are over their own nominal quota (borrowing), from the
most over-share project first, newest work first, and only as much as the item needs on the
nodes it will use. Work of a project within its quota, and work that is not interruptible,
is never preempted.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from airfoil.scheduler._policy import Policy
from airfoil.scheduler._round import Round

if TYPE_CHECKING:
    from airfoil.scheduler._model import Decision
    from airfoil.scheduler._state import RunningEntry, SchedulerState

__all__ = ["FairPolicy", "borrowed_victims", "fair_pass"]


@dataclass(frozen=True, slots=True)
class FairPolicy(Policy):
    """DRF fair share between projects, quotas with borrowing, reclaim by preemption.

    Attributes:
        reclaim: preempt borrowed interruptible work to give projects their nominal quota.
    """

    name: ClassVar[str] = "fair"
    reclaim: bool = True

    def decide(self, state: SchedulerState, now: float, *, explain: bool = True) -> Decision:
        """See :meth:`Policy.decide`."""
        rnd = Round(state, now, explain)
        fair_pass(rnd, reclaim=self.reclaim)
        return rnd.decision()


def fair_pass(rnd: Round, *, reclaim: bool, skip: frozenset[str] | set[str] = frozenset()) -> None:
    """Offer free capacity to projects in DRF order, skipping the ids in ``skip``.

    A project keeps the turn while its share stays the lowest, so the heap is touched once
    per start rather than once per item.
    """
    state = rnd.state
    waiting = state.waiting
    heap = [(rnd.share(project), project) for project in state.project_order]
    heapq.heapify(heap)
    position = dict.fromkeys(state.project_order, 0)
    can_reclaim = reclaim and bool(state.nominal)
    reclaim_failed: set[tuple[str, tuple[int, int, int, int]]] = set()
    victims: dict[str, list[RunningEntry]] = {}
    while heap:
        _, project = heapq.heappop(heap)
        queue = state.project_order[project]
        i = position[project]
        while i < len(queue):
            entry = waiting[queue[i][4]]
            i += 1
            item_id = entry.item.id
            if item_id in skip:
                continue
            reason = rnd.try_start(entry)
            if (
                reason is not None
                and can_reclaim
                and not rnd.blocked_by_quota
                and (project, entry.shape) not in reclaim_failed
                and rnd.within_nominal(entry)
            ):
                candidates = victims.get(project)
                if candidates is None:
                    candidates = victims[project] = borrowed_victims(rnd, project)
                if rnd.make_room(entry, candidates, lenders_only=True):
                    reason = None
                else:
                    reclaim_failed.add((project, entry.shape))
            if reason is None:
                turn = (rnd.share(project), project)
                if heap and turn > heap[0]:
                    position[project] = i
                    heapq.heappush(heap, turn)
                    break
                continue
            rnd.wait(entry, reason)
            if rnd.exhausted() and not (can_reclaim and _lenders(rnd)):
                rnd.explain_rest()
                return


def _lenders(rnd: Round) -> bool:
    return any(rnd.over_nominal(project) for project in rnd.usage)


def borrowed_victims(rnd: Round, claimant: str) -> list[RunningEntry]:
    """Borrowed, interruptible running work ``claimant`` may preempt, best victims first.

    Victims come from projects over their nominal quota, the most over-share project first,
    then lowest priority, then the most recently started. (``Round.make_room`` with
    ``lenders_only`` stops taking a project's work once it is back within its quota.)
    """
    state = rnd.state
    lenders = sorted(
        (-rnd.share(project), project)
        for project in state.usage
        if project != claimant and rnd.over_nominal(project)
    )
    by_project: dict[str, list[RunningEntry]] = {project: [] for _, project in lenders}
    for run in state.running.values():
        mine = by_project.get(run.entry.project)
        if mine is not None and run.entry.item.interruptible:
            mine.append(run)
    ordered: list[RunningEntry] = []
    for _, project in lenders:
        ordered.extend(sorted(by_project[project], key=_victim_order))
    return ordered


def _victim_order(run: RunningEntry) -> tuple[int, float]:
    return (run.entry.item.priority, -run.start)
