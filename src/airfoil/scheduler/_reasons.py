"""Why an item waits, in words a user of ``airfoil queue`` understands.

Policies build many reasons per decision, so callers cache them per shape or project; the
functions here only format.
"""

from __future__ import annotations

from airfoil.scheduler._capacity import Demand

__all__ = [
    "behind_head",
    "delays_reservation",
    "describe",
    "describe_gang",
    "in_reservation",
    "no_room",
    "over_quota",
]


def _plural(n: int | float, word: str) -> str:
    return f"{n:g} {word}" if n == 1 else f"{n:g} {word}s"


def describe(demand: Demand) -> str:
    """``"2 GPUs, 8 CPUs, 64 GiB"`` for one worker's demand."""
    c, m, g = demand
    parts = []
    if g:
        parts.append(_plural(g, "GPU"))
    if c:
        parts.append(_plural(c / 1000, "CPU"))
    if m:
        parts.append(f"{m / 2**30:.3g} GiB")
    return ", ".join(parts) or "no resources"


def describe_gang(demand: Demand, workers: int) -> str:
    """One worker's demand, or the gang's shape when there are several workers."""
    if workers == 1:
        return describe(demand)
    return f"a gang of {workers} workers x ({describe(demand)})"


def duration(seconds: float) -> str:
    """``"~35 min"`` style rounding of a duration."""
    if seconds < 120:
        return f"~{max(seconds, 0):.0f} s"
    if seconds < 5400:
        return f"~{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"~{seconds / 3600:.1f} h"
    return f"~{seconds / 86400:.1f} days"


def no_room(demand: Demand, workers: int) -> str:
    """The item does not fit the free capacity now."""
    if workers > 1:
        return (
            f"waiting for room for {describe_gang(demand, workers)}: a gang starts whole or "
            "not at all"
        )
    return f"waiting for {describe(demand)} on one node"


def over_quota(project: str, usage: list[int], need: Demand, limit: Demand) -> str:
    """The project would exceed its cap (nominal quota plus borrowing limit)."""
    labels = ("CPUs", "bytes of memory", "GPUs")
    scale = (1000, 1, 1)
    for i in (2, 0, 1):
        if usage[i] + need[i] > limit[i]:
            used = usage[i] / scale[i]
            cap = limit[i] / scale[i]
            extra = need[i] / scale[i]
            return (
                f"project {project!r} over quota: it uses {used:g} of its {cap:g} {labels[i]} "
                f"and this needs {extra:g} more"
            )
    return f"project {project!r} over quota"


def behind_head(head: str) -> str:
    """Strict FIFO: something ahead cannot start, so nothing behind it may."""
    return f"behind {head!r}, which cannot start yet (strict FIFO: nothing passes the head)"


def delays_reservation(holder: str, gang: bool, at: float, now: float) -> str:
    """Starting now would push back a reserved item's start."""
    what = "gang " if gang else ""
    return (
        f"reserved for {what}{holder!r}: starting now would delay it "
        f"(it is expected to start in {duration(at - now)})"
    )


def in_reservation(at: float, now: float) -> str:
    """The item holds a reservation and waits for it to come due."""
    return f"holding a reservation: expected to start in {duration(at - now)} as running work ends"
