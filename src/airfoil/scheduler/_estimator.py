"""Run-time estimates: the median of the same task's past durations, with a fallback.

Backfill and reservations need to know when running work will end. The estimate of an item
is, in order:

1. the median of the last ``window`` recorded durations of its ``task_key``, once at least
   ``min_samples`` are recorded (the median, not the mean, so one hung or crashed run does not
   move it);
2. else the estimate the caller gave with the item (``WorkItem.estimate``);
3. else ``default`` seconds (one hour unless configured): a deliberately long guess, so work
   with no history is not backfilled into a gap it is unlikely to fit.

An item that runs past its estimate is expected to end "any moment now" (see
:func:`expected_end`), which keeps reservations conservative: nothing new is backfilled onto
a reserved node on the strength of an estimate that has already proved wrong. A policy may
instead re-estimate such an item (:func:`overrun_end`: it runs as long again as it has run
so far, the estimate doubled at the moment it overruns), so that a reservation is not placed
"now" on nodes that overrunning work still holds, which then blocks all backfill around it.
"""

from __future__ import annotations

import statistics
from collections import deque

__all__ = ["RuntimeEstimator", "expected_end", "overrun_end"]


class RuntimeEstimator:
    """Median of past durations per task key, with a documented fallback.

    In-memory and deterministic; the engine feeds it with :meth:`record` when attempts
    succeed (the scheduler state does this on ``finish(..., succeeded=True)``).

    Args:
        default: seconds to assume when neither history nor a given estimate exists.
        window: how many recent durations per key to keep.
        min_samples: how many durations a key needs before its median is used.
    """

    __slots__ = ("_history", "_medians", "default", "min_samples", "window")

    def __init__(self, default: float = 3600.0, window: int = 20, min_samples: int = 1) -> None:
        if default <= 0:
            raise ValueError(f"default estimate must be positive, got {default}")
        if window < 1 or min_samples < 1 or min_samples > window:
            raise ValueError("need 1 <= min_samples <= window")
        self.default = float(default)
        self.window = window
        self.min_samples = min_samples
        self._history: dict[str, deque[float]] = {}
        self._medians: dict[str, float] = {}

    def record(self, task_key: str, duration: float) -> None:
        """Remember that a run of ``task_key`` took ``duration`` seconds."""
        if duration < 0:
            return
        runs = self._history.get(task_key)
        if runs is None:
            runs = self._history[task_key] = deque(maxlen=self.window)
        runs.append(float(duration))
        if len(runs) >= self.min_samples:
            self._medians[task_key] = statistics.median(runs)

    def history(self, task_key: str) -> tuple[float, ...]:
        """The durations kept for ``task_key``, oldest first."""
        return tuple(self._history.get(task_key, ()))

    def estimate(self, task_key: str | None, given: float | None = None) -> float:
        """Seconds the next run of ``task_key`` is expected to take.

        Args:
            task_key: the task's identity, or ``None`` when it has none.
            given: the caller's own estimate, used when the history is too short.

        Returns:
            The history median, else ``given``, else ``default``.
        """
        if task_key is not None:
            median = self._medians.get(task_key)
            if median is not None:
                return median
        if given is not None and given >= 0:
            return float(given)
        return self.default


def expected_end(start: float, remaining_estimate: float, now: float) -> float:
    """When a running item is expected to free its resources.

    ``start + remaining_estimate``, but never in the past: an item that overran its estimate
    is expected to end now.
    """
    end = start + remaining_estimate
    return end if end > now else now


def overrun_end(start: float, now: float, factor: float) -> float:
    """When an item that already ran past its estimate is re-estimated to end.

    It runs ``factor`` times as long as it has run so far: ``start + factor x (now - start)``,
    which with ``factor`` 2 is its estimate doubled at the moment it overruns, and keeps
    moving out while it still runs. Never before ``now`` for ``factor >= 1``.
    """
    return start + factor * (now - start)
