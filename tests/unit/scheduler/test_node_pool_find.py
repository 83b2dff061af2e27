"""NodePool.find resumes where it stopped for a demand; it must answer as a fresh scan."""

from __future__ import annotations

import random

import pytest
from sched_factories import gpu_node

from airfoil.scheduler._capacity import Caps, NodePool, slots_in, within_caps

pytestmark = pytest.mark.unit

GIB = 2**30
DEMANDS = [(2000, 8 * GIB, 0), (8000, 64 * GIB, 1), (4000, 16 * GIB, 2), (16000, 64 * GIB, 8)]


def scan(pool: NodePool, c: int, m: int, g: int, caps: Caps) -> int:
    """The best fit as a scan from the first bucket that can hold ``g`` GPUs, every time."""
    for fg in range(g, len(pool.buckets)):
        for n in pool.buckets[fg]:
            if pool.free_c[n] >= c and pool.free_m[n] >= m:
                if caps and not within_caps(n, c, m, g, caps):
                    continue
                return n
    return -1


def fits_everywhere(pool: NodePool, demand: tuple[int, int, int], workers: int) -> bool:
    """Whether the slots of every node add up to ``workers`` (what fits() must say)."""
    total = sum(
        slots_in(pool.free_c[n], pool.free_m[n], pool.free_g[n], demand)
        for n in range(len(pool.names))
    )
    return total >= workers


@pytest.mark.parametrize("seed", range(6))
def test_find_and_fits_answer_as_a_fresh_scan_through_takes_gives_and_caps(seed: int) -> None:
    """Random starts (takes on the node found, by CPU-only and GPU work), releases (gives),
    caps that shrink as work is charged to them and grow back when it is undone, and a
    copy of the pool taken midway: after every step, every demand's ``find`` (with and
    without the caps) is the node a fresh scan finds, and ``fits`` for gangs is the sum of
    every node's slots. A resumed scan that skipped a node which gained room, or kept a
    position in a bucket that changed, gives another node (or none)."""
    rng = random.Random(seed)
    pool = NodePool.from_nodes([gpu_node(f"n{i}", 8, cpu=32.0, mem_gib=256) for i in range(12)])
    cap: dict[int, list[int]] = {n: [16000, 128 * GIB, 4] for n in rng.sample(range(12), 4)}
    taken: list[tuple[int, tuple[int, int, int], bool]] = []
    for step in range(400):
        capped = rng.random() < 0.3
        caps: Caps = [cap] if capped else ()
        demand = rng.choice(DEMANDS)
        n = pool.find(*demand, caps)
        assert n == scan(pool, *demand, caps), step
        if n >= 0 and rng.random() < 0.7:
            pool.take_capped(n, demand, caps)
            taken.append((n, demand, capped))
        elif taken and rng.random() < 0.5:
            done, was, was_capped = taken.pop(rng.randrange(len(taken)))
            pool.give_capped(done, was, [cap] if was_capped else ())
        if step == 200:
            pool = pool.copy()  # a round's copy: it must not reuse the original's scans
        for other in DEMANDS:
            for with_caps in ((), [cap]):
                assert pool.find(*other, with_caps) == scan(pool, *other, with_caps), step
            for workers in (2, 4, 9):
                assert pool.fits(other, workers) == fits_everywhere(pool, other, workers), step
