"""The API's view of executions no process drives any more (see
:mod:`airfoil.core.interruption`): a local run stopped by Ctrl-C or SIGKILL in a database the
server shares, or a server execution whose server died, reads ``interrupted`` (its unfinished
nodes too, its running attempts ``lost``) once its lease is free or has lapsed. Reading never
writes: the run's own process, or a server's claim, may still carry it on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from airfoil.core.interruption import INTERRUPTED, is_interrupted, shown_attempts, shown_nodes
from airfoil.core.records import AttemptRecord, ExecutionHead, ExecutionRecord
from airfoil.runtime._packages import PACKAGE_PREFIX
from airfoil.server import _convert as cv
from airfoil.store.base import MetaStore
from airfoil.wire import ExecutionSummary

__all__ = [
    "INTERRUPTED",
    "attempts_by_node",
    "shown_attempts",
    "shown_nodes",
    "shown_summaries",
    "shown_summary",
    "undriven",
    "undriven_under",
]


def undriven(meta: MetaStore, rec: ExecutionRecord, now: float) -> bool:
    """Whether ``rec`` has not ended but no process drives it (one lease read if active).
    A server execution queued without a lease waits for a slot: not interrupted."""
    if rec.phase not in ("queued", "running"):
        return False
    return undriven_under(rec, meta.get_lease(rec.id), now)


def undriven_under(
    rec: ExecutionRecord | ExecutionHead, lease: tuple[str, float] | None, now: float
) -> bool:
    """:func:`undriven` given the execution's lease (read with it)."""
    if rec.phase not in ("queued", "running"):
        return False
    return is_interrupted(
        rec, lease, now, queued_waits_for_claim=rec.code_root.startswith(PACKAGE_PREFIX)
    )


def shown_summary(
    meta: MetaStore, rec: ExecutionRecord | ExecutionHead, now: float
) -> ExecutionSummary:
    """An execution as listed, ``interrupted`` if no process drives it."""
    return shown_summaries(meta, [rec], now)[0]


def shown_summaries(
    meta: MetaStore,
    records: Sequence[ExecutionRecord | ExecutionHead],
    now: float,
    leases: dict[str, tuple[str, float]] | None = None,
) -> list[ExecutionSummary]:
    """Executions as listed (``interrupted`` if no process drives one), with one read of
    the leases of those that have not ended, not one per row (none when ``leases`` are
    given: read with the records)."""
    if leases is None:
        active = [r.id for r in records if r.phase in ("queued", "running")]
        leases = meta.get_leases(active) if active else {}
    out = []
    for rec in records:
        summary = cv.summary_out(rec)
        if rec.phase in ("queued", "running") and is_interrupted(
            rec,
            leases.get(rec.id),
            now,
            queued_waits_for_claim=rec.code_root.startswith(PACKAGE_PREFIX),
        ):
            summary.phase = INTERRUPTED
        out.append(summary)
    return out


def attempts_by_node(
    attempts: Iterable[AttemptRecord], interrupted: bool
) -> dict[str, list[AttemptRecord]]:
    """Attempts grouped by node, running ones shown ``lost`` if the execution is interrupted."""
    found: dict[str, list[AttemptRecord]] = {}
    for a in shown_attempts(attempts, interrupted):
        found.setdefault(a.node_id, []).append(a)
    return found
