"""Shortcuts of ``airfoil``'s least-attained-service pass that change no decision.

Once every waiting item of a shape failed to make room, or is sure to, the pass only gives
such items their "waiting for room" reason; these helpers find when that is so, so the pass
can stop looking among them (its worst case: 10,000 waiting of one shape, and one item of
another deep in the queue, the restart of a job ``defragment`` moved). Used only without
quotas, caps or reclaim, where the pass walks the global order.
"""

from __future__ import annotations

from bisect import bisect_left
from operator import attrgetter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airfoil.scheduler._round import Round
    from airfoil.scheduler._state import QueueKey, Shape, WaitingEntry
    from airfoil.scheduler._victims import Victims

__all__ = ["ACTIVE", "due_shapes_left", "next_unsettled", "shortest_fails_too"]

ACTIVE = True
"""Whether the pass uses these shortcuts; tests turn them off to compare decisions."""

_JUMP_LIMIT = 64
"""At most this many waiting items of shapes not settled are looked at to find the next."""

_estimate_of = attrgetter("estimate")


def shortest_fails_too(
    rnd: Round,
    victims: Victims,
    entry: WaitingEntry,
    srpt_branch: bool,
    srpt: float | None,
    ratio: float | None,
    whole: bool,
    shortest: dict[Shape, float],
) -> bool:
    """Whether no item of ``entry``'s shape met later in the pass can make room, ``entry``
    having just failed to in the last level the pass preempts for.

    True when the victims offered to the shortest waiting item of the shape (the smallest
    ``least``) are none: every later item of it is at this level and of no higher priority
    (the global order), so it is offered a subset of those (victims only go within a
    decision) and fails the same way, with the same reason; the pass need not look for a
    shorter claimant of it. ``shortest`` caches each shape's shortest estimate (the state
    does not change within a decision)."""
    state = rnd.state
    low = shortest.get(entry.shape)
    if low is None:
        ids = state.shapes[entry.shape]
        low = shortest[entry.shape] = min(map(_estimate_of, map(state.waiting.__getitem__, ids)))
    level = entry.key[0]
    if srpt_branch:
        pool = victims.for_claimant(
            entry,
            level - 1,
            srpt * low if srpt else 0.0,
            spare_whole_nodes=whole,
            past_estimate=False,
        )
    else:
        least = None if ratio is None else ratio * low
        pool = victims.for_claimant(entry, level, least, spare_whole_nodes=whole)
    return not pool


def due_shapes_left(rnd: Round, served: set[str]) -> set[Shape]:
    """The shapes of the due items the due pass left to the least-attained-service pass,
    which meets them by another branch (the cap on due work, with its own reason)."""
    state, now = rnd.state, rnd.now
    waiting = state.waiting
    shapes = set()
    for at, _, item_id in state.due_reservable(now):
        if at > now:
            break
        if item_id not in served:
            shapes.add(waiting[item_id].shape)
    return shapes


def next_unsettled(
    rnd: Round,
    hopeless: dict[Shape, tuple[int, float]],
    key: QueueKey,
    served: set[str],
) -> int | None:
    """The index in the global order of the next waiting item after ``key`` whose shape is
    not *settled*, when every item between only waits for room (else ``None``).

    A shape is settled when it failed to make room at ``key``'s level or below for any
    estimate (``hopeless`` at 0) and still has no room: the pass's fast path gives each of
    its items that reason and nothing else, as long as no due item waits (the caller's
    check), the preemptions are not used up and nothing starts, all of which hold between
    two items the pass would try. Only when the items of shapes not settled are few
    (``_JUMP_LIMIT``), and the next one is at ``key``'s level, so no item between reaches
    the pass's early stop (which looks at levels)."""
    state, no_room, started = rnd.state, rnd.no_room, rnd.started
    level = key[0]
    waiting = state.waiting
    later: list[QueueKey] = []
    seen = 0
    for shape, ids in state.shapes.items():
        hope = hopeless.get(shape)
        if hope is not None and hope[1] == 0.0 and hope[0] <= level and shape in no_room:
            continue  # settled
        if not rnd.still_waits(shape):
            continue
        seen += len(ids)
        if seen > _JUMP_LIMIT:
            return None
        for item_id in ids:
            if item_id not in served and item_id not in started:
                k = waiting[item_id].key
                if k > key:
                    later.append(k)
    if not later:
        return None
    first = min(later)
    if first[0] != level:
        return None
    return bisect_left(state.order, first)
