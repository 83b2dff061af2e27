"""The victims of ``airfoil``'s passes: the running work a claimant may preempt.

``Victims`` is built once per decision of :class:`~airfoil.scheduler._airfoil.AirfoilPolicy`
and holds the preemptible running work in the order the policy takes it: the highest service
level first, then the most expected work left. It applies the policy's victim rules
(``preempt_ratio``) and
keeps the per-node indexes the due pass searches (``VictimIndex``). Work started as due and
work that is not interruptible are never in it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from itertools import compress
from operator import attrgetter, not_
from typing import TYPE_CHECKING

from airfoil.scheduler._shield import Shield
from airfoil.scheduler._victim_index import VictimIndex

if TYPE_CHECKING:
    from airfoil.scheduler._airfoil import AirfoilPolicy
    from airfoil.scheduler._capacity import Demand
    from airfoil.scheduler._round import Round
    from airfoil.scheduler._state import RunningEntry, WaitingEntry

__all__ = ["Kept", "Victims"]


class Victims:
    """Running work a claimant may preempt: highest level first, then most expected work left.

    Built once per decision. Work started as due (gangs, starving items) and work that is not
    interruptible are left out. Asks the round to wake when running work at or below the
    lowest waiting level crosses above it (then that work becomes a victim).
    """

    __slots__ = (
        "_compacted",
        "_hopeless",
        "_ids",
        "_indexes",
        "_keep_hopeless",
        "_keys",
        "_levels",
        "_max_priority",
        "_rnd",
        "_runs",
        "top",
    )

    def __init__(self, policy: AirfoilPolicy, rnd: Round, lowest: int) -> None:
        thresholds, now = policy.thresholds, rnd.now
        crossing = thresholds[lowest] if lowest < len(thresholds) else None
        # per level, the victims' minus expected work left and the victims, in arrival order:
        # each level sorted on its floats alone (a stable sort: arrival breaks ties), the
        # highest level first, is the order of (minus the level, minus the work left,
        # arrival) without a tuple per victim
        lefts_at: list[list[float]] = [[] for _ in range(len(thresholds) + 1)]
        runs_at: list[list[RunningEntry]] = [[] for _ in range(len(thresholds) + 1)]
        first_crossing: float | None = None
        shield = Shield.build(
            rnd.state,
            now,
            preempted=policy.shield_preempted,
            done=policy.shield_done,
            waited=policy.shield_waited,
            queue=policy.shield_queue,
        )
        for run in rnd.state.running.values():
            if not run.preemptible:
                continue  # not interruptible, or started as due (never a victim)
            if shield is not None and shield.covers(run):
                continue  # shielded in this decision (off by default)
            entry = run.entry
            rate = entry.rate
            ran = now - run.start
            attained = entry.item.attained + ran * rate
            level = bisect_right(thresholds, attained)
            # minus the expected work left (positive: past its estimate, work left unknown)
            lefts_at[level].append(ran - entry.estimate)
            runs_at[level].append(run)
            if level <= lowest and crossing is not None and rate > 0:
                at = now + (crossing - attained) / rate
                if first_crossing is None or at < first_crossing:
                    first_crossing = at
        if first_crossing is not None:
            rnd.wake(first_crossing)
        self._rnd = rnd
        runs: list[RunningEntry] = []
        levels: list[int] = []
        # minus each victim's expected work left, for the ``preempt_ratio`` and ``srpt_ratio``
        # cuts within each level (only built when either is set: the last level's cut needs
        # them without the first); within a level, the victims' sort keys compare as these
        keyed = policy.preempt_ratio is not None or policy.srpt_ratio is not None
        keys: list[float] = []
        for level in range(len(thresholds), -1, -1):
            lefts, level_runs = lefts_at[level], runs_at[level]
            if not lefts:
                continue
            at_level = sorted(range(len(lefts)), key=lefts.__getitem__)
            runs += map(level_runs.__getitem__, at_level)
            levels += [-level] * len(at_level)
            if keyed:
                keys += map(lefts.__getitem__, at_level)
        self._runs = runs
        self._ids: list[str] | None = None  # the victims' ids, once compacted
        self._levels = levels
        self._keys = keys
        self._max_priority = max(map(_priority_of, self._runs), default=0)
        self._compacted = 0
        self._indexes: dict[int | None, VictimIndex] = {}
        self._hopeless: set[Demand] = set()
        self._keep_hopeless = not (policy.reclaim and rnd.state.nominal)
        self.top = -levels[0] if levels else -1

    def indexed(self, entry: WaitingEntry) -> VictimIndex:
        """Victims for ``entry`` at any level (as ``for_claimant(entry, None)``), indexed per
        node: a due gang's whole-node workers would walk nearly all running work each."""
        priority: int | None = entry.item.priority
        if self._max_priority <= entry.item.priority:
            priority = None  # no victim of a higher priority: the same list for every claimant
        index = self._indexes.get(priority)
        if index is None:
            # built once per decision (what is preempted later is skipped); a claimant of a
            # lower priority than some victims gets a view of it without them
            every = self._indexes.get(None)
            if every is None:
                every = self._indexes[None] = VictimIndex(self._listed(None), self._rnd.state)
            if priority is None:
                return every
            index = self._indexes[priority] = every.at_most(priority, self._listed(priority))
        return index

    def _listed(self, priority: int | None) -> list[RunningEntry]:
        runs = self._select(None, None, priority)
        assert isinstance(runs, list)  # not lazy
        return runs

    def can_free(self, demand: Demand) -> bool:
        """False when no node could hold one worker of ``demand`` even with every victim
        preempted (any level or priority), as the index built in this decision says; then
        no claimant's walk can succeed. True when unknown (no index built).

        Free room plus what a node's victims could free only shrinks during a round
        (starts take room, preempting or restoring a victim moves room between the two),
        so a ``False`` holds for the rest of the round and is kept; but not where reclaim
        may preempt work that is no victim here (started as due), freeing room outside
        these sums."""
        if demand in self._hopeless:
            return False
        every = self._indexes.get(None)
        if every is None or every.can_free(self._rnd, demand):
            return True
        if self._keep_hopeless:
            self._hopeless.add(demand)
        return False

    def for_claimant(
        self,
        entry: WaitingEntry,
        level: int | None,
        least: float | None = None,
        *,
        spare_whole_nodes: bool = False,
        past_estimate: bool = True,
    ) -> list[RunningEntry] | Kept:
        """Victims for ``entry``: above ``level`` (``None``: any level), of no higher priority,
        and (``least``) expected to run at least that many more seconds or already past
        their estimate (how much is left of such work, no estimate says); with
        ``spare_whole_nodes``, none that needs all the GPUs of the largest node.

        The filters on each victim's own fields (priority, size) are applied as the
        victims are walked (:class:`Kept`): a claimant's walk usually stops within a few
        entries of a list of hundreds."""
        return self._select(
            level, least, entry.item.priority, spare_whole_nodes, past_estimate, lazy=True
        )

    def _select(
        self,
        level: int | None,
        least: float | None,
        priority: int | None,
        spare_whole_nodes: bool = False,
        past_estimate: bool = True,
        *,
        lazy: bool = False,
    ) -> list[RunningEntry] | Kept:
        """:meth:`for_claimant` for a claimant of ``priority`` (``None``: any victim); with
        ``lazy``, ``Kept`` is returned where a filter applies, else a list."""
        rnd = self._rnd
        if len(rnd.preempted) >= self._compacted + 32:
            # drop preempted victims so later searches do not walk over them again
            if self._ids is None:
                self._ids = [run.entry.item.id for run in self._runs]
            kept = list(map(not_, map(rnd.preempted.__contains__, self._ids)))
            self._ids = list(compress(self._ids, kept))
            self._runs = list(compress(self._runs, kept))
            self._levels = list(compress(self._levels, kept))
            if self._keys:
                self._keys = list(compress(self._keys, kept))
            self._compacted = len(rnd.preempted)
        end = len(self._runs) if level is None else bisect_left(self._levels, -level)
        if least is None:
            runs = self._runs if level is None else self._runs[:end]
        else:
            # within a level, victims are sorted by most work left: a prefix of each level
            # (at least ``least`` left), then its suffix of work past its estimate
            runs = []
            levels, keys, runs_all, i = self._levels, self._keys, self._runs, 0
            while i < end:
                lv = levels[i]
                j = bisect_right(levels, lv, i, end)
                cut = bisect_left(keys, -least, i, j)
                runs.extend(runs_all[i:cut])
                if past_estimate:
                    runs.extend(runs_all[bisect_right(keys, 0.0, i, j) : j])
                i = j
        highest = priority if priority is not None and self._max_priority > priority else None
        whole = self._rnd.state.largest[2] if spare_whole_nodes else None
        if highest is None and whole is None:
            return runs
        passed = Kept(runs, highest, whole)
        return passed if lazy else list(passed)


class Kept:
    """The victims of a list that pass a claimant's filters, found as they are walked.

    Iterable any number of times (a gang walks once per worker), in the list's order;
    true when any victim passes. The filters read only what does not change in a round.
    """

    __slots__ = ("_most", "_runs", "_whole")

    def __init__(self, runs: list[RunningEntry], most: int | None, whole: int | None) -> None:
        self._runs = runs
        self._most = most  # no victim of a priority above it
        self._whole = whole  # no victim needing that many GPUs or more

    def __iter__(self) -> Iterator[RunningEntry]:
        most, whole = self._most, self._whole
        for run in self._runs:
            entry = run.entry
            if most is not None and entry.item.priority > most:
                continue
            if whole is not None and entry.demand[2] >= whole:
                continue
            yield run

    def __bool__(self) -> bool:
        return next(iter(self), None) is not None


_priority_of = attrgetter("entry.item.priority")
