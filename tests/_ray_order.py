"""The order of the multi-node Ray tests: modules whose worker nodes have the same shapes run
one after the other, so that the nodes one module leaves serve the next instead of being
killed and started again (seconds each on a small machine; ``_ray_cluster``).

Pure bookkeeping over the collected items, so that it is tested without Ray:

- :func:`order_by_nodes` moves the modules of one node shape next to the first of them (the
  others keep their places and their order), a module that kills a node last in its group;
- the ids it returns are those of the items (and modules, by their last item) directly
  followed by an item asking for the same shape: only their nodes are kept for the next.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

__all__ = ["Grouping", "order_by_nodes"]


class _Item(Protocol):
    @property
    def nodeid(self) -> str: ...


T = TypeVar("T", bound=_Item)

#: What :func:`order_by_nodes` needs to know of an item: its module's id, the key of the node
#: shapes the module asks for (``None``: no nodes of its own to share), and whether the module
#: kills a node (it goes last in its group: a node it broke serves nobody after it).
Grouping = tuple[str, "str | None", bool]


def order_by_nodes(
    items: Sequence[T], grouping: Callable[[T], Grouping]
) -> tuple[list[T], set[str]]:
    """``items`` reordered, and the ids (of items, and of modules for their last item) whose
    nodes the next item can take over."""
    blocks: list[tuple[Grouping, list[T]]] = []  # runs of items of one module, in order
    for item in items:
        g = grouping(item)
        if blocks and blocks[-1][0][0] == g[0]:
            blocks[-1][1].append(item)
        else:
            blocks.append((g, [item]))
    shapes = [g[1] for g, _ in blocks]
    placed: set[int] = set()
    ordered: list[tuple[Grouping, list[T]]] = []
    for i, (g, _) in enumerate(blocks):
        if i in placed:
            continue
        same = [j for j in range(i, len(blocks)) if g[1] is not None and shapes[j] == g[1]] or [i]
        same.sort(key=lambda j: blocks[j][0][2])  # stable: killers last, others as collected
        placed.update(same)
        ordered.extend(blocks[j] for j in same)
    flat = [(g, item) for g, its in ordered for item in its]
    keep: set[str] = set()
    for (g, item), (h, _) in itertools.pairwise(flat):
        if g[1] is not None and g[1] == h[1]:
            keep.add(item.nodeid)
            if g[0] != h[0]:  # the module's last item: its module-scoped nodes go on too
                keep.add(g[0])
    return [item for _, item in flat], keep
