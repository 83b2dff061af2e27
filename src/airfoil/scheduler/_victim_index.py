"""Which node preempting the earliest victims frees first: a search per node, not per victim.

:meth:`Round.make_room <airfoil.scheduler._round.Round.make_room>` walks victims in order of
preference, adding what each frees to its nodes, and takes the first node where a worker
fits, with exactly the victims counted on it. A whole-node worker on a full cluster walks
nearly every running item before a node is free enough, once per worker of every gang that
tries; with 1,000 running that walk was half of a decision's time.

:class:`VictimIndex` gives the same answer from the other side: it keeps, per node, the
victims on that node in order of preference with running sums of what they free, so the
point where a node first fits is a binary search, and the answer is the node whose point
comes first in the victims' order. Only the nodes whose victims were preempted or restored
since the last search are summed again. Claimants of a lower priority than some victims may
not preempt those: :meth:`VictimIndex.at_most` gives them the same index without them, sharing
the per-node lists (built once per decision) and summing its own. A node whose victims, all
of them, could not free enough is skipped before it is summed (a per-node bound), and
:meth:`VictimIndex.can_free` says whether any node could hold a worker even with every
victim preempted: when none could, no walk over any of these victims finds one either.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate
from operator import itemgetter
from typing import TYPE_CHECKING

from airfoil.scheduler._capacity import Caps, Demand

if TYPE_CHECKING:
    from airfoil.scheduler._round import Round
    from airfoil.scheduler._state import RunningEntry, SchedulerState

__all__ = ["VictimIndex"]

_Slot = tuple[int, int, "RunningEntry", Demand]
"""A victim's place on one node: (its index in the victims, which of its nodes, itself, the
milli-CPU, bytes and GPUs it frees there)."""

_freed = itemgetter(3)
"""What a slot's victim frees on its node."""
_cpu, _mem, _gpus = itemgetter(0), itemgetter(1), itemgetter(2)

_Sums = tuple[int, int, int, int, list[int], list[int], list[int], list[_Slot]]
"""A node's searchable victims: (the round's change count for the node when summed, the
milli-CPU, bytes and GPUs all of them free, running sums of each, the slots not preempted, in
order)."""


class VictimIndex:
    """Victims in order of preference, indexed per node for :meth:`first_fit`.

    Attributes:
        runs: the victims, in order of preference (what a walk would take).
    """

    __slots__ = ("_bounds", "_most", "_slots", "_sums", "runs")

    def __init__(self, runs: Sequence[RunningEntry], state: SchedulerState) -> None:
        self.runs = runs
        self._most: int | None = None
        slots: dict[int, list[_Slot]] = {}
        draining = state.draining
        for i, run in enumerate(runs):
            nodes = run.nodes
            if len(nodes) == 1 and not draining:  # the common case, without the inner loop
                slots.setdefault(nodes[0], []).append((i, 0, run, run.entry.demand))
                continue
            for pos, n in enumerate(nodes):
                if n not in draining:  # what it frees on a node that leaves is no room
                    slots.setdefault(n, []).append((i, pos, run, run.entry.demand))
        self._slots = slots
        # per node, what all its victims (any that are not interruptible too) free: a bound
        # on any sum, to skip summing a node that even all of them cannot free enough
        bounds: dict[int, tuple[int, int, int]] = {}
        for n, node_slots in slots.items():
            freed = list(map(_freed, node_slots))
            bounds[n] = (sum(map(_cpu, freed)), sum(map(_mem, freed)), sum(map(_gpus, freed)))
        self._bounds = bounds
        self._sums: dict[int, _Sums] = {}

    def at_most(self, priority: int, runs: Sequence[RunningEntry]) -> VictimIndex:
        """This index without the victims of a priority above ``priority``; ``runs``: the
        victims left, in the same order. Shares this index's per-node lists (no rebuild)."""
        view = VictimIndex.__new__(VictimIndex)
        view.runs = runs
        view._most = priority
        view._slots = self._slots
        view._bounds = self._bounds
        view._sums = {}
        return view

    def first_fit(
        self, rnd: Round, demand: Demand, caps: Caps
    ) -> tuple[int, list[RunningEntry]] | None:
        """The node where one worker of ``demand`` fits after preempting the fewest victims
        from the front of the order, and those victims (``None``: no node, even with all).

        The same answer as walking the victims in order, adding each one's release to its
        nodes (in the order of its nodes) and stopping at the first node that fits within
        ``caps``; victims the round already preempted are skipped, their room already free.
        """
        c, m, g = demand
        pool = rnd.pool
        free_c, free_m, free_g = pool.free_c, pool.free_m, pool.free_g
        changes = rnd.node_changes
        # the nodes a cap leaves too little for a worker (as within_caps, once per cap entry)
        capped = {
            n
            for cap in caps
            for n, extra in cap.items()
            if extra[0] < c or extra[1] < m or extra[2] < g
        }
        all_sums, bounds = self._sums, self._bounds
        best: tuple[int, int] | None = None
        best_n = best_k = -1
        for n, slots in self._slots.items():
            if n in capped:
                continue
            need_c, need_m, need_g = c - free_c[n], m - free_m[n], g - free_g[n]
            bc, bm, bg = bounds[n]
            if bc < need_c or bm < need_m or bg < need_g:
                continue  # not even with every victim it ever had
            sums = all_sums.get(n)
            if sums is None or sums[0] != changes.get(n, 0):
                sums = self._sum(n, slots, rnd)
            _, tc, tm, tg, cum_c, cum_m, cum_g, kept = sums
            if tc < need_c or tm < need_m or tg < need_g or not kept:
                continue  # not even with all its victims (or it has none left)
            k = max(
                bisect_left(cum_c, need_c), bisect_left(cum_m, need_m), bisect_left(cum_g, need_g)
            )
            at = (kept[k][0], kept[k][1])
            if best is None or at < best:
                best, best_n, best_k = at, n, k
        if best is None:
            return None
        picked: list[RunningEntry] = []
        for slot in all_sums[best_n][7][: best_k + 1]:
            run = slot[2]
            if not picked or picked[-1] is not run:
                picked.append(run)
        return best_n, picked

    def can_free(self, rnd: Round, demand: Demand) -> bool:
        """Whether some node could hold one worker of ``demand`` once all its victims here
        (not yet preempted) were preempted: if not, no walk of any subset of these victims
        finds a node either (a walk only considers nodes its victims free room on)."""
        c, m, g = demand
        pool = rnd.pool
        free_c, free_m, free_g = pool.free_c, pool.free_m, pool.free_g
        changes = rnd.node_changes
        all_sums, bounds = self._sums, self._bounds
        for n, slots in self._slots.items():
            need_c, need_m, need_g = c - free_c[n], m - free_m[n], g - free_g[n]
            bc, bm, bg = bounds[n]
            if bc < need_c or bm < need_m or bg < need_g:
                continue
            sums = all_sums.get(n)
            if sums is None or sums[0] != changes.get(n, 0):
                sums = self._sum(n, slots, rnd)
            if sums[7] and sums[1] >= need_c and sums[2] >= need_m and sums[3] >= need_g:
                return True
        return False

    def _sum(self, n: int, slots: list[_Slot], rnd: Round) -> _Sums:
        preempted, most = rnd.preempted, self._most
        kept = [
            slot
            for slot in slots
            if slot[2].entry.item.interruptible
            and slot[2].entry.item.id not in preempted
            and (most is None or slot[2].entry.item.priority <= most)
        ]
        if kept:
            freed = list(map(_freed, kept))
            cum_c = list(accumulate(map(_cpu, freed)))
            cum_m = list(accumulate(map(_mem, freed)))
            cum_g = list(accumulate(map(_gpus, freed)))
            tc, tm, tg = cum_c[-1], cum_m[-1], cum_g[-1]
        else:
            cum_c, cum_m, cum_g = [], [], []
            tc = tm = tg = 0
        sums = self._sums[n] = (rnd.node_changes.get(n, 0), tc, tm, tg, cum_c, cum_m, cum_g, kept)
        return sums
