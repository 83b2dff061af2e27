"""How an execution that no process drives any more is shown: ``interrupted``.

After Ctrl-C (the driver releases its lease) or SIGKILL (the lease lapses), the stored
records still read ``running``: nothing was left to write them, and nothing may write them
now, since a process might yet resume the execution (``airfoil executions resume``) or, on
a server, claim it. So the interruption is a view, derived when reading: the execution shows
``interrupted``, its unfinished nodes (queued, running, retrying) show ``interrupted`` and its
running attempts show ``lost``. The stored records are never changed by reading.

Pure functions of records, a lease and a time: the CLI and the server both use them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import msgspec

from airfoil.core.records import AttemptRecord, ExecutionHead, ExecutionRecord, NodeRecord

__all__ = [
    "INTERRUPTED",
    "LOST",
    "is_interrupted",
    "shown_attempts",
    "shown_nodes",
]

#: The phase shown for an undriven execution and for its unfinished nodes.
INTERRUPTED = "interrupted"
#: The phase shown for an attempt that was running when its execution was interrupted.
LOST = "lost"

_UNFINISHED_NODE = frozenset({"queued", "running", "retrying"})

_R = TypeVar("_R", NodeRecord, AttemptRecord)


def is_interrupted(
    record: ExecutionRecord | ExecutionHead,
    lease: tuple[str, float] | None,
    now: float,
    *,
    queued_waits_for_claim: bool = False,
) -> bool:
    """Whether an execution that has not ended is driven by no one.

    Args:
        record: the execution.
        lease: its lease ``(owner, expires_at)`` as the store holds it, or None.
        now: the time to judge the lease by.
        queued_waits_for_claim: a queued execution without a lease is waiting for a
            server's slot, not interrupted (server executions); a local run's driver takes
            the lease when it creates the execution, so for it a missing lease means
            interrupted.
    """
    if record.phase not in ("queued", "running"):
        return False
    if lease is None:
        return not (queued_waits_for_claim and record.phase == "queued")
    return lease[1] < now


def shown_nodes(nodes: Iterable[NodeRecord], interrupted: bool) -> list[NodeRecord]:
    """The nodes as shown: unfinished ones read ``interrupted`` if the execution is."""
    return [_shown(n, INTERRUPTED, interrupted and n.phase in _UNFINISHED_NODE) for n in nodes]


def shown_attempts(attempts: Iterable[AttemptRecord], interrupted: bool) -> list[AttemptRecord]:
    """The attempts as shown: running ones read ``lost`` if the execution is interrupted."""
    return [_shown(a, LOST, interrupted and a.phase == "running") for a in attempts]


def _shown(record: _R, phase: str, change: bool) -> _R:
    return msgspec.structs.replace(record, phase=phase) if change else record
