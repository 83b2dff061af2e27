"""``af.gather``: collect the results of several task calls made from a running task."""

from __future__ import annotations

from typing import Any

__all__ = ["gather"]


def gather(*results: Any) -> list[Any]:
    """The results of several child calls, in order: ``a, b = af.gather(t1(x=1), t2(y=2))``.

    Each call inside a running task is recorded as a durable child node when it is made;
    ``gather`` collects their results (the calls run one after another in the calling
    task's process).
    """
    return list(results)
