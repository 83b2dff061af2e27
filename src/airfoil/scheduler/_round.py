"""One planning round: the scratch space a policy fills while it decides.

A :class:`Round` copies the state's free capacity and project usage, then lets a policy try
items (:meth:`Round.try_start`), hold reservations (:meth:`Round.reserve`) and preempt
(:meth:`Round.make_room`) against that copy. The state itself is never touched; the finished
round becomes a :class:`~airfoil.scheduler.Decision`.

Guarantees, whatever the policy does with it: a start is placed whole (every worker of a gang
on a node with room, or nothing); only running, interruptible work is ever preempted; starts
respect every project's cap; a start that would end after a reservation's time leaves that
reservation's nodes enough room (EASY backfill, per node).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat
from typing import TYPE_CHECKING

from airfoil.scheduler import _reasons
from airfoil.scheduler._capacity import (
    Caps,
    Demand,
    NodePool,
    slots_of,
    within_caps,
)
from airfoil.scheduler._estimator import expected_end, overrun_end
from airfoil.scheduler._model import Decision, Start
from airfoil.scheduler._victim_index import VictimIndex

if TYPE_CHECKING:
    from airfoil.scheduler._state import RunningEntry, SchedulerState, Shape, WaitingEntry

__all__ = ["Reservation", "Round"]

_FIRST = (0,)
"""The active reservations when only the first is (a constant, to build no tuple)."""


class Reservation:
    """Room held for ``holder`` from time ``at`` on ``nodes``.

    ``extra`` is what each of those nodes has left at ``at`` once the holder is placed: work
    that would still run at ``at`` may use a reserved node only within it.
    """

    __slots__ = ("at", "extra", "gang", "holder", "nodes")

    def __init__(
        self,
        holder: str,
        gang: bool,
        at: float,
        nodes: tuple[int, ...],
        extra: dict[int, list[int]],
    ) -> None:
        self.holder = holder
        self.gang = gang
        self.at = at
        self.nodes = nodes
        self.extra = extra


class Round:
    """Scratch state for one :meth:`Policy.decide` call.

    Attributes:
        state: the state being decided on (read only).
        now: the decision time.
        explain: whether to record reasons.
        pool: free capacity after the round's starts and preemptions so far.
        usage: per-project usage after the round's starts and preemptions so far.
        reservations: reservations held in this round.
        node_changes: per node, how many times work on it was preempted or restored in this
            round (what a :class:`~airfoil.scheduler._victim_index.VictimIndex` re-sums).
        blocked_by_quota: whether the last failed :meth:`try_start` failed on the project cap.
        fits_checked_at: how many shapes had no room when :meth:`exhausted` last found one
            that fits (-1: not since a preemption); while ``no_room`` has that many,
            :meth:`exhausted` is false (a caller in a hot loop may test this first).
    """

    def __init__(self, state: SchedulerState, now: float, explain: bool) -> None:
        self.state = state
        self.now = now
        self.explain = explain
        self.pool: NodePool = state.pool.copy()
        self.usage: dict[str, list[int]] = {p: u.copy() for p, u in state.usage.items()}
        self.starts: list[Start] = []
        self.planned: list[tuple[float, WaitingEntry, list[int]]] = []
        self.started: set[str] = set()
        self._started_of: dict[Shape, int] = {}  # how many of each shape started
        self.preempted: dict[str, RunningEntry] = {}
        self.reasons: dict[str, str] = {}
        self.reservations: list[Reservation] = []
        self.node_changes: dict[int, int] = {}
        self.blocked_by_quota = False
        self.wake_at: float | None = None
        self.no_room: dict[Shape, str] = {}
        self._limits = state.limits
        self._holds: dict[int, list[int]] = {}
        self._capped: dict[tuple[Shape, tuple[int, ...]], str] = {}
        self._quota_text: dict[tuple[str, Shape, int, int, int], str] = {}
        self.fits_checked_at = -1

    # -- starting ----------------------------------------------------------------------------

    def try_start(self, entry: WaitingEntry) -> str | None:
        """Start ``entry`` if its project's cap, the free capacity and the reservations allow.

        Failures are cached per shape, so trying many items of one shape costs one placement.

        Returns:
            ``None`` if it was started, else why it waits.
        """
        if self._limits:
            limit = self._limits.get(entry.project)
            if limit is not None:
                text = self._over_cap(entry, limit)
                if text is not None:
                    self.blocked_by_quota = True
                    return text
        self.blocked_by_quota = False
        text = self.no_room.get(entry.shape)
        if text is not None:
            return text
        reservations = self.reservations
        if reservations:
            end = self.now + entry.estimate
            if len(reservations) == 1:  # the common case, without a generator
                active: tuple[int, ...] = _FIRST if reservations[0].at < end else ()
            else:
                active = tuple(i for i, r in enumerate(reservations) if r.at < end)
            if active:
                key = (entry.shape, active)
                text = self._capped.get(key)
                if text is not None:
                    return text
                caps = [self.reservations[i].extra for i in active]
                nodes = self._preferred(entry, caps) or self.pool.place(
                    entry.demand, entry.workers, caps
                )
                if nodes is None:
                    text = self._capped[key] = self._capped_text(entry, active)
                    return text
                self._commit(entry, nodes)
                return None
        if entry.workers == 1:  # the common case, without place()'s gang bookkeeping
            c, m, g = entry.demand
            if entry.item.prefer:
                nodes = self._preferred(entry, ())
                if nodes is not None:
                    self._commit(entry, nodes)
                    return None
            n = self.pool.find(c, m, g)
            if n >= 0:
                self.pool.take(n, c, m, g)
                self._commit(entry, [n])
                return None
            text = self.no_room[entry.shape] = self._no_room_text(entry.demand, 1)
            return text
        nodes = self.pool.place(entry.demand, entry.workers)
        if nodes is None:
            text = self.no_room[entry.shape] = self._no_room_text(entry.demand, entry.workers)
            return text
        self._commit(entry, nodes)
        return None

    def _preferred(self, entry: WaitingEntry, caps: Caps) -> list[int] | None:
        """Place a one-worker item on the first of its preferred nodes with room (taken),
        or None: data locality is a preference, never a reason to wait."""
        if entry.workers != 1 or not entry.item.prefer:
            return None
        c, m, g = entry.demand
        pool = self.pool
        for name in entry.item.prefer:
            n = pool.index.get(name)
            if n is None or pool.free_c[n] < c or pool.free_m[n] < m or pool.free_g[n] < g:
                continue
            if caps and not within_caps(n, c, m, g, caps):
                continue
            pool.take_capped(n, entry.demand, caps)
            return [n]
        return None

    def wait(self, entry: WaitingEntry, reason: str) -> None:
        """Record why ``entry`` waits (when explaining)."""
        if self.explain:
            self.reasons[entry.item.id] = reason

    def explain_all(self, reason: str) -> None:
        """Give every waiting item not yet explained (nor started) the same reason."""
        if not self.explain:
            return
        bulk = dict.fromkeys(self.state.waiting, reason)
        for item_id in self.started:
            del bulk[item_id]
        bulk.update(self.reasons)
        self.reasons = bulk

    def explain_rest(self) -> None:
        """Give every waiting item not yet explained its reason, in bulk.

        Call once :meth:`exhausted` is true and the policy will try nothing more: then an
        item waits either for its project's cap or for room of its shape, and the state keeps
        the latter ready (``SchedulerState.room_reasons``), so this is a dict copy rather than
        a pass over the queue.
        """
        if not self.explain:
            return
        state = self.state
        bulk = state.room_reasons.copy()
        for project, limit in self._limits.items():
            for key in state.project_order.get(project, ()):
                entry = state.waiting[key[4]]
                text = self._over_cap(entry, limit)
                if text is not None:
                    bulk[entry.item.id] = text
        for item_id in self.started:
            del bulk[item_id]
        bulk.update(self.reasons)
        self.reasons = bulk

    def wake(self, at: float) -> None:
        """Ask to be called again at ``at``."""
        if at > self.now and (self.wake_at is None or at < self.wake_at):
            self.wake_at = at

    def still_waits(self, shape: Shape) -> bool:
        """Whether an item of ``shape`` waits that this decision has not started."""
        return self._started_of.get(shape, 0) < len(self.state.shapes[shape])

    def exhausted(self) -> bool:
        """Whether no waiting shape fits the free capacity (ignoring reservations).

        Re-checked only after a new shape failed: until then the answer cannot turn true.
        A shape all of whose items this decision started waits no more: room it would fit
        is no reason to go on (a moved job's restart, say, left such a shape behind).
        """
        if len(self.no_room) == self.fits_checked_at:
            return False
        for shape in self.state.shapes:
            if shape in self.no_room or not self.still_waits(shape):
                continue
            demand: Demand = (shape[0], shape[1], shape[2])
            if self.pool.fits(demand, shape[3]):
                self.fits_checked_at = len(self.no_room)
                return False
            self.no_room[shape] = self._no_room_text(demand, shape[3])
        return True

    def share(self, project: str) -> float:
        """The project's dominant share of the cluster now, divided by its weight."""
        usage = self.usage.get(project)
        if usage is None:
            return 0.0
        tc, tm, tg = self.state.totals
        share = max(
            usage[0] / tc if tc else 0.0,
            usage[1] / tm if tm else 0.0,
            usage[2] / tg if tg else 0.0,
        )
        return share / self.state.weight(project)

    def within_nominal(self, entry: WaitingEntry) -> bool:
        """Whether starting ``entry`` keeps its project within its guaranteed quota."""
        nominal = self.state.nominal.get(entry.project)
        if nominal is None:
            return False
        usage = self.usage.get(entry.project, [0, 0, 0])
        k = entry.workers
        return all(u + d * k <= n for u, d, n in zip(usage, entry.demand, nominal, strict=True))

    def over_nominal(self, project: str) -> bool:
        """Whether ``project`` uses more than its guaranteed quota (it is borrowing)."""
        usage = self.usage.get(project)
        if usage is None:
            return False
        nominal = self.state.nominal.get(project, (0, 0, 0))
        return any(u > n for u, n in zip(usage, nominal, strict=True))

    # -- reservations ------------------------------------------------------------------------

    def reserve(self, entry: WaitingEntry, overrun: float | None = None) -> Reservation | None:
        """Hold room for ``entry`` at the earliest time running work frees enough of it.

        Running work is assumed to end at its expected end (work past its estimate: now, or
        with ``overrun``, see :func:`overrun_end`); earlier reservations keep their room.
        Later starts in this round are then backfill: see :meth:`try_start`.

        Returns:
            The reservation, or ``None`` if ``entry`` cannot fit even when everything that
            runs now has ended.
        """
        pool = self.pool
        demand, k = entry.demand, entry.workers
        fc, fm, fg = pool.free_c.copy(), pool.free_m.copy(), pool.free_g.copy()
        for n, held in self._holds.items():
            fc[n] -= held[0]
            fm[n] -= held[1]
            fg[n] -= held[2]
        c, m, g = demand
        slots = list(map(slots_of, fc, fm, fg, repeat(c), repeat(m), repeat(g)))
        total = sum(slots)
        at = self.now
        if total < k:
            for end, (vc, vm, vg), nodes in self._releases(overrun):
                for n in nodes:
                    fc[n] += vc
                    fm[n] += vm
                    fg[n] += vg
                    fit = slots_of(fc[n], fm[n], fg[n], c, m, g)
                    total += fit - slots[n]
                    slots[n] = fit
                if total >= k:
                    at = end
                    break
            else:
                return None
        future = pool.with_free(
            [x if x > 0 else 0 for x in fc],
            [x if x > 0 else 0 for x in fm],
            [x if x > 0 else 0 for x in fg],
        )
        placed = future.place(demand, k)
        if placed is None:  # pragma: no cover - slots said it fits
            return None
        extra: dict[int, list[int]] = {}
        for n in placed:
            extra.setdefault(n, [fc[n], fm[n], fg[n]])
            for i, d in enumerate(demand):
                extra[n][i] -= d
            held = self._holds.setdefault(n, [0, 0, 0])
            for i, d in enumerate(demand):
                held[i] += d
        reservation = Reservation(entry.item.id, k > 1, at, tuple(placed), extra)
        self.reservations.append(reservation)
        return reservation

    def _releases(self, overrun: float | None) -> Iterator[tuple[float, Demand, Iterable[int]]]:
        """Expected ends of running and just-started work, earliest first.

        Work that overran its estimate is expected to end now, or, with ``overrun``, to run
        ``overrun`` times as long as it has run so far (see :func:`overrun_end`).
        """
        state, now, preempted = self.state, self.now, self.preempted
        planned = sorted(((end, e.demand, nodes) for end, e, nodes in self.planned), key=_first)
        running = state.running
        ends: Iterable[tuple[float, Demand, Iterable[int]]]
        if overrun is None:
            ends = self._running_ends(0)
        else:
            # the overrun items are a prefix of running_by_end; their re-estimated ends are
            # in a new order, so they are sorted apart and merged with the rest
            by_end = state.running_by_end
            i = bisect_left(by_end, (now,))
            late = [
                (overrun_end(run.start, now, overrun), run.entry.demand, _live(state, run))
                for run in (running[key[2]] for key in by_end[:i])
                if run.entry.item.id not in preempted
            ]
            late.sort(key=_first)
            ends = heapq.merge(late, self._running_ends(i), key=_first)
        yield from heapq.merge(ends, planned, key=_first)

    def _running_ends(self, first: int) -> Iterator[tuple[float, Demand, Iterable[int]]]:
        state, now, preempted = self.state, self.now, self.preempted
        for _, _, item_id in state.running_by_end[first:]:
            if item_id in preempted:
                continue
            run = state.running[item_id]
            end = expected_end(run.start, run.entry.estimate, now)  # keeps running_by_end order
            yield end, run.entry.demand, _live(state, run)

    def _caps(self, entry: WaitingEntry) -> list[dict[int, list[int]]]:
        end = self.now + entry.estimate
        return [r.extra for r in self.reservations if r.at < end]

    def _capped_text(self, entry: WaitingEntry, active: tuple[int, ...]) -> str:
        """Why ``entry`` fails under reservations: no room at all, or it would delay one."""
        if not self.pool.fits(entry.demand, entry.workers):
            text = self.no_room[entry.shape] = self._no_room_text(entry.demand, entry.workers)
            return text
        if not self.explain:
            return "would delay a reservation"
        first = min((self.reservations[i] for i in active), key=_at)
        return _reasons.delays_reservation(first.holder, first.gang, first.at, self.now)

    def _no_room_text(self, demand: Demand, workers: int) -> str:
        return self.state.room_reason((*demand, workers))

    # -- preempting ----------------------------------------------------------------------------

    def make_room(
        self,
        entry: WaitingEntry,
        victims: Iterable[RunningEntry] | VictimIndex,
        *,
        lenders_only: bool = False,
    ) -> bool:
        """Preempt as little as needed, best victims first, so ``entry`` fits; then start it.

        ``victims`` is in order of preference. For each worker that does not fit as things
        are, the victims are walked in that order, adding up what each would free per node,
        and the first node where the worker would fit is taken, with exactly the victims
        counted on it: so the worst victim preempted is as preferred as it can be. Only
        running, interruptible work is ever taken. With ``lenders_only``, a victim's project
        must still be over its nominal quota once the work considered before it is gone
        (conservative: work counted on a node that is not chosen counts as gone too).

        ``victims`` may come as a :class:`VictimIndex` (same order, same answer, searched per
        node; walked as a list with ``lenders_only``).

        Returns:
            Whether ``entry`` was started. If not, nothing was preempted.
        """
        index: VictimIndex | None = None
        if isinstance(victims, VictimIndex):
            index, victims = (None if lenders_only else victims), victims.runs
        caps = self._caps(entry) if self.reservations else ()
        pool, demand = self.pool, entry.demand
        c, m, g = demand
        placed: list[int] = []
        chosen: list[RunningEntry] = []
        for _ in range(entry.workers):
            n = pool.find(c, m, g, caps)
            if n < 0:
                found = (
                    index.first_fit(self, demand, caps)
                    if index is not None
                    else self._victims_for(demand, victims, caps, lenders_only)
                )
                if found is None:
                    for done in placed:
                        pool.give_capped(done, demand, caps)
                    for victim in reversed(chosen):
                        self._restore(victim)
                    return False
                n, picked = found
                for victim in picked:
                    self._preempt(victim)
                chosen.extend(picked)
            pool.take_capped(n, demand, caps)
            placed.append(n)
        self._commit(entry, placed)
        if chosen:
            self._recheck_no_room({n for victim in chosen for n in victim.nodes})
        return True

    def _recheck_no_room(self, touched: set[int]) -> None:
        """Forget cached "no room" verdicts that preemptions may have made wrong.

        Only the ``touched`` nodes gained room (every other node only lost some since the
        verdict), so a single worker that fits none of them still fits nowhere: re-checking
        those few nodes is much cheaper than placing every shape again. A gang's verdict is
        dropped (its slots add up across nodes).
        """
        pool = self.pool
        stale = [
            shape
            for shape in self.no_room
            if shape[3] != 1 or any(pool.fits_on(n, shape[0], shape[1], shape[2]) for n in touched)
        ]
        for shape in stale:
            del self.no_room[shape]
        if stale:
            self.fits_checked_at = -1
        self._capped.clear()

    def _victims_for(
        self,
        demand: Demand,
        victims: Iterable[RunningEntry],
        caps: Sequence[dict[int, list[int]]],
        lenders_only: bool,
    ) -> tuple[int, list[RunningEntry]] | None:
        """The first node that the earliest victims free enough for one worker."""
        c, m, g = demand
        pool = self.pool
        free_c, free_m, free_g = pool.free_c, pool.free_m, pool.free_g
        preempted, draining = self.preempted, self.state.draining
        room: dict[int, list[int]] = {}
        picked: dict[int, list[RunningEntry]] = {}
        released: dict[str, list[int]] = {}
        for victim in victims:
            entry = victim.entry
            item = entry.item
            if not item.interruptible or item.id in preempted:
                continue
            vc, vm, vg = entry.demand
            if lenders_only:
                gone = released.setdefault(item.project, [0, 0, 0])
                k = entry.workers
                if not self._over_nominal_after(item.project, gone):
                    continue
                gone[0] += vc * k
                gone[1] += vm * k
                gone[2] += vg * k
            for n in _live(self.state, victim) if draining else victim.nodes:
                free = room.get(n)
                if free is None:
                    fc, fm, fg = free_c[n] + vc, free_m[n] + vm, free_g[n] + vg
                    room[n] = [fc, fm, fg]
                    on_node = picked[n] = [victim]
                else:
                    fc = free[0] = free[0] + vc
                    fm = free[1] = free[1] + vm
                    fg = free[2] = free[2] + vg
                    on_node = picked[n]
                    if on_node[-1] is not victim:
                        on_node.append(victim)
                if fc >= c and fm >= m and fg >= g and (not caps or within_caps(n, c, m, g, caps)):
                    return n, on_node
        return None

    def _over_nominal_after(self, project: str, gone: list[int]) -> bool:
        usage = self.usage.get(project)
        if usage is None:
            return False
        nominal = self.state.nominal.get(project, (0, 0, 0))
        return any(u - r > q for u, r, q in zip(usage, gone, nominal, strict=True))

    def _preempt(self, run: RunningEntry) -> None:
        self.preempted[run.entry.item.id] = run
        c, m, g = run.entry.demand
        changes = self.node_changes
        for n in _live(self.state, run):
            self.pool.give(n, c, m, g)
            changes[n] = changes.get(n, 0) + 1
        self._charge(run.entry, -1)

    def _restore(self, run: RunningEntry) -> None:
        del self.preempted[run.entry.item.id]
        c, m, g = run.entry.demand
        changes = self.node_changes
        for n in _live(self.state, run):
            self.pool.take(n, c, m, g)
            changes[n] = changes.get(n, 0) + 1
        self._charge(run.entry, +1)

    # -- internals ---------------------------------------------------------------------------

    def _commit(self, entry: WaitingEntry, nodes: list[int]) -> None:
        names = self.pool.names
        placement = (names[nodes[0]],) if len(nodes) == 1 else tuple([names[n] for n in nodes])
        self.starts.append(Start(entry.item.id, placement))
        self.planned.append((self.now + entry.estimate, entry, nodes))
        self.started.add(entry.item.id)
        self._started_of[entry.shape] = self._started_of.get(entry.shape, 0) + 1
        usage = self.usage.get(entry.project)  # _charge(entry, +1), inlined
        if usage is None:
            usage = self.usage[entry.project] = [0, 0, 0]
        k = entry.workers
        c, m, g = entry.demand
        usage[0] += c * k
        usage[1] += m * k
        usage[2] += g * k

    def _charge(self, entry: WaitingEntry, sign: int) -> None:
        usage = self.usage.get(entry.project)
        if usage is None:
            usage = self.usage[entry.project] = [0, 0, 0]
        k = entry.workers * sign
        c, m, g = entry.demand
        usage[0] += c * k
        usage[1] += m * k
        usage[2] += g * k

    def _over_cap(self, entry: WaitingEntry, limit: Demand) -> str | None:
        usage = self.usage.get(entry.project, [0, 0, 0])
        k = entry.workers
        c, m, g = entry.demand
        if (
            usage[0] + c * k <= limit[0]
            and usage[1] + m * k <= limit[1]
            and usage[2] + g * k <= limit[2]
        ):
            return None
        if not self.explain:
            return "over quota"
        key = (entry.project, entry.shape, usage[0], usage[1], usage[2])
        text = self._quota_text.get(key)
        if text is None:
            need = (c * k, m * k, g * k)
            text = self._quota_text[key] = _reasons.over_quota(entry.project, usage, need, limit)
        return text

    def decision(self) -> Decision:
        """The round's outcome."""
        return Decision(
            starts=tuple(self.starts),
            preemptions=tuple(self.preempted),
            reasons=self.reasons,
            wake_at=self.wake_at,
        )


def _first(row: tuple[float, Demand, Iterable[int]]) -> float:
    return row[0]


def _at(reservation: Reservation) -> float:
    return reservation.at


def _live(state: SchedulerState, run: RunningEntry) -> tuple[int, ...]:
    """The nodes of ``run`` that stay in the cluster: what it frees on a node that left
    (draining) is never room for other work."""
    if not state.draining:
        return run.nodes
    return tuple(n for n in run.nodes if n not in state.draining)
