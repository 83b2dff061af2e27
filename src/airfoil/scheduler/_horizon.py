"""Placement a horizon ahead, for ``AirfoilPolicy.place_horizon`` (off by default).

A single worker of less than a node goes to the node that will have the fewest GPUs free a
horizon from now (free now plus what running work expected to end by then frees), then best
fit: a node about to empty is left for whole-node work instead of being split again.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airfoil.scheduler._capacity import Demand
    from airfoil.scheduler._round import Round

__all__ = ["ending_soon", "horizon_fit"]


def ending_soon(rnd: Round, horizon: float) -> list[int]:
    """GPUs per node that running work expected to end within ``horizon`` will free.

    Work past its estimate is left out (when it ends, no estimate says), and so is work
    this round preempted (its GPUs are free already).
    """
    state, now, preempted = rnd.state, rnd.now, rnd.preempted
    soon = [0] * len(rnd.pool.free_g)
    by_end = state.running_by_end
    until = now + horizon
    for i in range(bisect_left(by_end, (now,)), len(by_end)):
        end, _, item_id = by_end[i]
        if end > until:
            break
        if item_id in preempted:
            continue
        run = state.running[item_id]
        g = run.entry.demand[2]
        for n in run.nodes:
            soon[n] += g
    return soon


def horizon_fit(rnd: Round, demand: Demand, soon: list[int]) -> int:
    """The node for one worker of ``demand`` that leaves the fewest GPUs free a horizon
    ahead (free now plus ``soon``), then the fewest free now (best fit), then the first;
    ``-1`` if none has room."""
    pool = rnd.pool
    c, m, g = demand
    free_c, free_m, buckets = pool.free_c, pool.free_m, pool.buckets
    best: tuple[int, int, int] | None = None
    for fg in range(g, len(buckets)):
        for n in buckets[fg]:
            if free_c[n] >= c and free_m[n] >= m:
                key = (fg + soon[n], fg, n)
                if best is None or key < best:
                    best = key
    return -1 if best is None else best[2]
