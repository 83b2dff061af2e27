"""Defragmentation by migration, for ``AirfoilPolicy.defragment`` (on by default, guarded).

At the end of a decision, the capacity still free is idle: every waiting item that could
use it was started. When that idle capacity adds up to what a waiting single worker needs
but no one node has it (a whole-node job waiting while four nodes each have half their GPUs
free, say), the worker is started on a node whose running work is *moved*: those victims
are preempted and the idle room they will restart in, on other nodes, is held for them
for the rest of the decision; the decision asks to be called again at once
(``wake_at``), when they restart there. A victim loses only its restart; no waiting item
loses room it could have used, since the room the victims take was idle.

Only single-worker, interruptible work not started as due, of no higher priority than the
claimant, is moved, and only onto room that is free now. Not used while a reservation is
held (its per-node limits decide what may run where) or where quotas are set (a project's
cap, or a lender's nominal share, would have to be checked for each move).

Two optional guards (:class:`Guard`; ``AirfoilPolicy``'s default sets ``spare_due`` and
``after`` 1, docs/scheduling.md): ``spare_due``, no move at all while a due item (a gang,
a starving job) or any gang waits, since the room a move fills is room such an item may
need next; ``after``, only a claimant that has waited ``after`` times its estimate since its
submit claims.

Each moved job goes to the best-fit node with idle room, ties broken as
:meth:`NodePool.find` breaks them (the node that reached that free count first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airfoil.scheduler._capacity import Demand, NodePool
    from airfoil.scheduler._round import Round
    from airfoil.scheduler._state import RunningEntry, Shape, WaitingEntry

__all__ = ["Guard", "defragment"]


@dataclass(frozen=True, slots=True)
class Guard:
    """When a move is allowed (see the module's text); the defaults allow every move."""

    spare_due: bool = False
    after: float | None = None


def defragment(
    rnd: Round, max_preemptions: int, whole_only: bool, wake_after: float, guard: Guard = Guard()
) -> None:
    """Start waiting single workers that fit the idle capacity only once work is moved.

    Claimants are taken in queue order, one per shape; each moves the fewest GPUs it can
    (then the fewest jobs). ``whole_only``: only workers that need all the GPUs of the
    largest node claim.
    """
    state = rnd.state
    if rnd.reservations or state.quotas or not state.running:
        return
    if guard.spare_due and _due_or_gang_waits(rnd):
        return
    pool = rnd.pool
    tried: set[Shape] = set()
    while len(rnd.preempted) < max_preemptions:
        free = (sum(pool.free_c), sum(pool.free_m), sum(pool.free_g))
        claimant = _first_claimant(rnd, free, tried, whole_only, guard.after)
        if claimant is None:
            return
        tried.add(claimant.shape)
        plan = _best_move(rnd, claimant, max_preemptions - len(rnd.preempted))
        if plan is None:
            continue
        for victim, to in plan:
            vc, vm, vg = victim.entry.demand
            pool.take(to, vc, vm, vg)  # held for its restart: idle room, so nobody loses it
        # no node fits the claimant, so make_room preempts exactly these (all on one node,
        # largest first, as planned) and starts it there
        if rnd.make_room(claimant, [victim for victim, _ in plan]):
            rnd.reasons.pop(claimant.item.id, None)
            rnd.wake(rnd.now + wake_after)
        else:  # cannot happen: the plan was checked on this pool
            for victim, to in plan:
                vc, vm, vg = victim.entry.demand
                pool.give(to, vc, vm, vg)


def _due_or_gang_waits(rnd: Round) -> bool:
    """Whether a due item, or a gang, waits (not started in this decision)."""
    state, started, now = rnd.state, rnd.started, rnd.now
    for at, _, item_id in state.due_reservable(now):
        if at > now:
            break
        if item_id in state.waiting and item_id not in started:
            return True
    for shape, ids in state.shapes.items():
        if shape[3] > 1 and any(item_id not in started for item_id in ids):
            return True
    return False


def _first_claimant(
    rnd: Round,
    free: tuple[int, int, int],
    tried: set[Shape],
    whole_only: bool,
    after: float | None,
) -> WaitingEntry | None:
    """The first waiting single worker, in queue order, whose shape the idle capacity adds
    up to but no node holds (and not tried yet in this decision)."""
    state, pool, now = rnd.state, rnd.pool, rnd.now
    largest_gpus = state.largest[2]
    shapes: set[Shape] = set()
    for shape in state.shapes:
        c, m, g, workers = shape
        if workers != 1 or shape in tried or (whole_only and g < largest_gpus):
            continue
        if c <= free[0] and m <= free[1] and g <= free[2] and pool.find(c, m, g) < 0:
            shapes.add(shape)
    if not shapes:
        return None
    started = rnd.started
    for key in state.order:
        entry = state.waiting[key[4]]
        if entry.shape not in shapes or key[4] in started:
            continue
        if entry.reserve_from is not None and entry.reserve_from <= now:
            continue  # due: the due pass and its cap decide when it starts
        if after is not None and now - entry.item.submit_time < after * entry.estimate:
            continue  # has not waited ``after`` times its estimate yet
        return entry
    return None


def _best_move(
    rnd: Round, claimant: WaitingEntry, budget: int
) -> list[tuple[RunningEntry, int]] | None:
    """The moves (victim, node it restarts on) that make room for ``claimant``: per node, the
    largest movable workers first until it fits, each to the best-fit node with idle room
    (not that node); the node that moves the fewest GPUs, then jobs, wins."""
    state, pool = rnd.state, rnd.pool
    c, m, g = claimant.demand
    priority = claimant.item.priority
    by_node: dict[int, list[RunningEntry]] = {}
    for run in state.running.values():
        entry = run.entry
        if (
            entry.workers == 1
            and run.preemptible
            and entry.item.priority <= priority
            and entry.item.id not in rnd.preempted
            and run.nodes[0] not in state.draining
        ):
            by_node.setdefault(run.nodes[0], []).append(run)
    best: tuple[tuple[int, int], int, list[tuple[RunningEntry, int]]] | None = None
    for n, runs in by_node.items():
        need = (c - pool.free_c[n], m - pool.free_m[n], g - pool.free_g[n])
        picked: list[RunningEntry] = []
        got = [0, 0, 0]
        for run in sorted(runs, key=_largest_first):
            if got[0] >= need[0] and got[1] >= need[1] and got[2] >= need[2]:
                break
            vc, vm, vg = run.entry.demand
            got[0] += vc
            got[1] += vm
            got[2] += vg
            picked.append(run)
        if not (got[0] >= need[0] and got[1] >= need[1] and got[2] >= need[2]):
            continue
        if len(picked) > budget:
            continue
        moves = _destinations(pool, n, picked)
        if moves is None:
            continue
        cost = (sum(run.entry.demand[2] for run in picked), len(picked))
        if best is None or cost < best[0]:
            best = (cost, n, moves)
    return None if best is None else best[2]


def _destinations(
    pool: NodePool, n: int, picked: list[RunningEntry]
) -> list[tuple[RunningEntry, int]] | None:
    """Best-fit idle room on nodes other than ``n`` for each of ``picked`` (changes nothing)."""
    taken: list[tuple[int, Demand]] = []
    moves: list[tuple[RunningEntry, int]] = []
    ok = True
    for run in picked:
        vc, vm, vg = run.entry.demand
        to = _find_except(pool, n, vc, vm, vg)
        if to < 0:
            ok = False
            break
        pool.take(to, vc, vm, vg)
        taken.append((to, run.entry.demand))
        moves.append((run, to))
    for to, (vc, vm, vg) in taken:
        pool.give(to, vc, vm, vg)
    return moves if ok else None


def _find_except(pool: NodePool, n: int, c: int, m: int, g: int) -> int:
    """:meth:`NodePool.find` on every node but ``n``: best fit by free GPUs, ties in the
    pool's bucket order; -1 if none fits."""
    free_c, free_m, buckets = pool.free_c, pool.free_m, pool.buckets
    for fg in range(g, len(buckets)):
        for k in buckets[fg]:
            if k != n and free_c[k] >= c and free_m[k] >= m:
                return k
    return -1


def _largest_first(run: RunningEntry) -> tuple[int, int, int]:
    c, m, g = run.entry.demand
    return (-g, -c, -m)
