"""Exponential backoff with its exponent bounded: one rule for every retry loop.

``base * 2**n`` overflows once ``n`` passes ~1,024 (an int that no float holds, or a float's
``OverflowError``), and a loop that fails for hours gets there: a task with ``retries=10**6``,
a driver slot while its store is away, a model replica that keeps failing. The exponent is
bounded first (2**64 times any base past a few nanoseconds is past every cap), then the cap.
"""

from __future__ import annotations

__all__ = ["doubling"]

_MAX_EXPONENT = 64


def doubling(base_s: float, n: int, max_s: float) -> float:
    """``base_s * 2**n`` seconds, at most ``max_s`` (``n`` below 0 counts as 0), for any
    ``n``."""
    return float(min(max_s, base_s * 2.0 ** min(max(n, 0), _MAX_EXPONENT)))
