"""Free capacity per node, indexed for fast best-fit placement.

Amounts are integers so arithmetic is exact: CPU in milli-cores, memory in bytes, whole GPUs.
Nodes are bucketed by free GPUs; a worker asking for ``g`` GPUs scans the buckets from ``g``
upwards and takes the first node whose CPU and memory also fit. That is best fit on GPUs (it
keeps whole nodes free for 8-GPU workers) and sends CPU-only work to nodes whose GPUs are
already taken.

Invariants: ``0 <= free <= capacity`` on every node and in every dimension; a node is in
exactly one bucket, the one of its free GPU count.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from airfoil.core.resources import ResourceSpec
from airfoil.scheduler._model import Node

__all__ = [
    "UNLIMITED",
    "Caps",
    "Demand",
    "NodePool",
    "demand_of",
    "slots_in",
    "slots_of",
    "within_caps",
]

Demand = tuple[int, int, int]
"""Per-worker ``(milli-CPU, memory bytes, GPUs)``."""

Caps = Sequence[dict[int, list[int]]]
"""Extra per-node limits ``{node: [milli-CPU, bytes, GPUs]}`` a placement must also respect
(what a reservation leaves over on its nodes). Placing decrements them."""

UNLIMITED = 1 << 62
"""More workers than any node could hold: the slot count of an item that asks for nothing."""


def demand_of(resources: ResourceSpec) -> Demand:
    """The integer demand of ``resources``."""
    return (round(resources.cpu * 1000), int(resources.mem), int(resources.gpu))


class NodePool:
    """Free resources of a fixed set of nodes. Cheap to :meth:`copy` for a planning round."""

    __slots__ = (
        "_scan",
        "_version",
        "buckets",
        "cap_c",
        "cap_g",
        "cap_m",
        "free_c",
        "free_g",
        "free_m",
        "index",
        "names",
    )

    names: tuple[str, ...]
    index: dict[str, int]
    cap_c: list[int]
    cap_m: list[int]
    cap_g: list[int]
    free_c: list[int]
    free_m: list[int]
    free_g: list[int]
    buckets: list[dict[int, None]]

    def __init__(self) -> None:
        # where :meth:`find` stopped, per demand and caps: ``(version, bucket, node, the
        # bucket's iterator past it, caps)``; valid while ``_version`` is unchanged, i.e.
        # while no node gained room and no bucket changed (only :meth:`give` and a
        # :meth:`take` of GPUs change either)
        self._scan: dict[tuple[int, ...], tuple[int, int, int, Iterator[int] | None, Caps]] = {}
        self._version = 0

    @classmethod
    def from_nodes(cls, nodes: Sequence[Node]) -> NodePool:
        """An empty (all free) pool of ``nodes``."""
        pool = cls()
        pool.names = tuple(node.name for node in nodes)
        pool.index = {name: i for i, name in enumerate(pool.names)}
        caps = [demand_of(node.capacity) for node in nodes]
        pool.cap_c = [c for c, _, _ in caps]
        pool.cap_m = [m for _, m, _ in caps]
        pool.cap_g = [g for _, _, g in caps]
        pool.free_c = list(pool.cap_c)
        pool.free_m = list(pool.cap_m)
        pool.free_g = list(pool.cap_g)
        pool.buckets = [{} for _ in range(max(pool.cap_g, default=0) + 1)]
        for i, g in enumerate(pool.cap_g):
            pool.buckets[g][i] = None
        return pool

    def copy(self) -> NodePool:
        """An independent copy of the free amounts (capacities are shared, never mutated)."""
        pool = NodePool()
        pool.names = self.names
        pool.index = self.index
        pool.cap_c, pool.cap_m, pool.cap_g = self.cap_c, self.cap_m, self.cap_g
        pool.free_c = self.free_c.copy()
        pool.free_m = self.free_m.copy()
        pool.free_g = self.free_g.copy()
        pool.buckets = [bucket.copy() for bucket in self.buckets]
        return pool

    def with_free(self, free_c: list[int], free_m: list[int], free_g: list[int]) -> NodePool:
        """A pool of the same nodes with the given free amounts (each within capacity)."""
        pool = NodePool()
        pool.names, pool.index = self.names, self.index
        pool.cap_c, pool.cap_m, pool.cap_g = self.cap_c, self.cap_m, self.cap_g
        pool.free_c, pool.free_m, pool.free_g = free_c, free_m, free_g
        pool.buckets = [{} for _ in self.buckets]
        for i, g in enumerate(free_g):
            pool.buckets[g][i] = None
        return pool

    def take(self, n: int, c: int, m: int, g: int) -> None:
        """Allocate one worker's demand on node ``n`` (the caller checked it fits)."""
        if g:
            self._version += 1  # the node moves to another bucket
            fg = self.free_g[n]
            del self.buckets[fg][n]
            self.buckets[fg - g][n] = None
            self.free_g[n] = fg - g
        self.free_c[n] -= c
        self.free_m[n] -= m

    def give(self, n: int, c: int, m: int, g: int) -> None:
        """Release one worker's demand on node ``n``."""
        self._version += 1  # the node gained room
        if g:
            fg = self.free_g[n]
            del self.buckets[fg][n]
            self.buckets[fg + g][n] = None
            self.free_g[n] = fg + g
        self.free_c[n] += c
        self.free_m[n] += m

    def shrink(self, n: int, c: int, m: int, g: int) -> None:
        """Release one worker's demand on node ``n`` by lowering its capacity instead of
        freeing it (a node that left the cluster). Capacities are replaced, not mutated,
        so copies made before keep theirs."""
        self.cap_c = [*self.cap_c]
        self.cap_m = [*self.cap_m]
        self.cap_g = [*self.cap_g]
        self.cap_c[n] -= c
        self.cap_m[n] -= m
        self.cap_g[n] -= g

    def fits_on(self, n: int, c: int, m: int, g: int) -> bool:
        """Whether one worker fits on node ``n`` now."""
        return self.free_g[n] >= g and self.free_c[n] >= c and self.free_m[n] >= m

    def slots(self, n: int, demand: Demand) -> int:
        """How many workers of ``demand`` fit on node ``n`` now."""
        return slots_in(self.free_c[n], self.free_m[n], self.free_g[n], demand)

    def slots_when_empty(self, n: int, demand: Demand) -> int:
        """How many workers of ``demand`` fit on node ``n`` when nothing runs there."""
        return slots_in(self.cap_c[n], self.cap_m[n], self.cap_g[n], demand)

    def can_ever_fit(self, demand: Demand, workers: int) -> bool:
        """Whether a gang of ``workers`` x ``demand`` fits the empty cluster."""
        total = 0
        for n in range(len(self.names)):
            total += self.slots_when_empty(n, demand)
            if total >= workers:
                return True
        return False

    def max_free_gpus(self) -> int:
        """The most GPUs free on any one node."""
        for fg in range(len(self.buckets) - 1, -1, -1):
            if self.buckets[fg]:
                return fg
        return 0

    def fits(self, demand: Demand, workers: int) -> bool:
        """Whether a gang of ``workers`` x ``demand`` fits now. Changes nothing."""
        c, m, g = demand
        if workers == 1:
            return self.find(c, m, g) >= 0
        free_c, free_m, free_g = self.free_c, self.free_m, self.free_g
        total = 0
        # a node of fewer free GPUs than ``g`` holds none (its bucket is below ``g``): only the
        # buckets from ``g`` up are summed (the sum, not its order, is the answer)
        nodes = (n for bucket in self.buckets[g:] for n in bucket) if g else range(len(free_c))
        for n in nodes:
            fit = UNLIMITED  # slots_in, inlined
            if c:
                fit = free_c[n] // c
            if m and free_m[n] // m < fit:
                fit = free_m[n] // m
            if g and free_g[n] // g < fit:
                fit = free_g[n] // g
            if fit > 0:
                total += fit
                if total >= workers:
                    return True
        return False

    def place(self, demand: Demand, workers: int, caps: Caps = ()) -> list[int] | None:
        """Place a gang all-or-nothing, best fit, and allocate it.

        Args:
            demand: per-worker demand.
            workers: gang size.
            caps: extra per-node limits to respect and decrement (see :data:`Caps`).

        Returns:
            The node index of each worker, or ``None`` (nothing allocated) if the gang does
            not fit whole.
        """
        c, m, g = demand
        placed: list[int] = []
        for _ in range(workers):
            n = self.find(c, m, g, caps)
            if n < 0:
                for done in placed:
                    self.give_capped(done, demand, caps)
                return None
            self.take_capped(n, demand, caps)
            placed.append(n)
        return placed

    def take_capped(self, n: int, demand: Demand, caps: Caps) -> None:
        """:meth:`take` one worker on ``n`` and charge it to the caps that cover ``n``."""
        c, m, g = demand
        self.take(n, c, m, g)
        for cap in caps:
            extra = cap.get(n)
            if extra is not None:
                extra[0] -= c
                extra[1] -= m
                extra[2] -= g

    def give_capped(self, n: int, demand: Demand, caps: Caps) -> None:
        """Undo :meth:`take_capped`."""
        c, m, g = demand
        self.give(n, c, m, g)
        for cap in caps:
            extra = cap.get(n)
            if extra is not None:
                extra[0] += c
                extra[1] += m
                extra[2] += g

    def find(self, c: int, m: int, g: int, caps: Caps = ()) -> int:
        """The best-fit node for one worker, or -1.

        The scan goes through the buckets from ``g`` up, each in its order. Where it stopped
        for the same demand and caps is kept (the node found and the bucket's iterator past
        it): until a node gains room or changes bucket, nodes only lose room (and caps only
        shrink) and no bucket changes, so every node before that one still does not fit and
        the next scan for that demand resumes there, with the same answer.
        """
        free_c, free_m = self.free_c, self.free_m
        buckets = self.buckets
        key = (c, m, g, *map(id, caps)) if caps else (c, m, g)
        last = self._scan.get(key)
        rest: Iterator[int] | None = None
        first = g
        if last is not None and last[0] == self._version:
            first, n, rest = last[1], last[2], last[3]
            if n < 0:
                return -1
            if free_c[n] >= c and free_m[n] >= m and (not caps or within_caps(n, c, m, g, caps)):
                return n
        for fg in range(first, len(buckets)):
            nodes = rest if rest is not None and fg == first else iter(buckets[fg])
            for n in nodes:
                if free_c[n] >= c and free_m[n] >= m:
                    if caps and not within_caps(n, c, m, g, caps):
                        continue
                    # (the caps are kept with it, so that their ids in the key stay theirs)
                    self._scan[key] = (self._version, fg, n, nodes, caps)
                    return n
        self._scan[key] = (self._version, len(buckets), -1, None, caps)
        return -1


def within_caps(n: int, c: int, m: int, g: int, caps: Caps) -> bool:
    """Whether one worker fits node ``n``'s entries in every cap."""
    for cap in caps:
        extra = cap.get(n)
        if extra is not None and (extra[0] < c or extra[1] < m or extra[2] < g):
            return False
    return True


def slots_in(fc: int, fm: int, fg: int, demand: Demand) -> int:
    """How many workers of ``demand`` fit in free amounts ``fc, fm, fg`` (0 if any is short)."""
    return slots_of(fc, fm, fg, *demand)


def slots_of(fc: int, fm: int, fg: int, c: int, m: int, g: int) -> int:
    """:func:`slots_in` with the demand's parts apart (for ``map`` over nodes), without
    ``min`` and ``max`` calls."""
    slots = UNLIMITED
    if c:
        slots = fc // c
    if m and fm // m < slots:
        slots = fm // m
    if g and fg // g < slots:
        slots = fg // g
    return slots if slots > 0 else 0
