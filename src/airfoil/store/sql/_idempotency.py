"""The idempotency keys of launches, mixed into :class:`~airfoil.store.sql.SqlMetaStore`:
``executions.idempotency_key`` (revision 0022), written by the launch's insert only and unique
within a project (``ux_executions_project_idempotency_key``; a second launch with the key
fails its batch whole, :class:`~airfoil.store._taken.IdempotencyKeyTaken`), cleared only by
its release; and what a batch's unique or foreign key refusal says (:func:`batch_refused`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airfoil.core.errors import ConflictError, StoreError
from airfoil.core.records import StoreBatch
from airfoil.store._taken import execution_taken, idempotency_taken, launch_taken
from airfoil.store.base import missing_execution
from airfoil.store.sql._connect import integrity_kind
from airfoil.store.sql._host import SqlHost

__all__ = ["SqlIdempotencyKeys", "batch_refused"]


class SqlIdempotencyKeys(SqlHost):
    """The launches' idempotency keys of the host :class:`SqlMetaStore`."""

    def idempotent_launch(self, project: str, key: str) -> str | None:
        params = {"project": project, "key": key}
        rows = self._read(self._s.idempotent_launch, params, "finding an idempotency key")
        return str(rows[0][0]) if rows else None

    def release_idempotency_key(self, execution_id: str, key: str) -> bool:
        params = {"id": execution_id, "key": key}

        def release(cur: Any) -> int:
            cur.execute(self._s.release_idempotency_key, params)
            return int(cur.rowcount)

        one = self._one_statement
        return bool(
            self._transaction("releasing an idempotency key", release, idempotent=True, begin=one)
        )


def batch_refused(
    exc: Exception, batch: StoreBatch, exists: Callable[[str], bool], url: str
) -> Exception:
    """The error of a batch the database refused with integrity error ``exc``: a launch's
    name, idempotency key or id taken, an event seq taken, or a record of an execution that
    does not exist (``exists``: whether an execution does)."""
    kind = integrity_kind(exc)
    names = ("ux_executions_project_name_domain", "executions.name")
    keys = ("ux_executions_project_idempotency_key", "executions.idempotency_key")
    ex = batch.execution
    if kind == "unique" and ex is not None and any(t in str(exc) for t in names):
        return execution_taken(ex.project, ex.domain, ex.display_name)
    if kind == "unique" and any(t in str(exc) for t in keys):
        return idempotency_taken(batch) or ConflictError(str(exc))
    if kind == "unique":  # a launch's own id taken by a launch that won the race
        return launch_taken(batch) or ConflictError(
            f"an event seq of the batch already exists ({exc}); nothing of the batch was written"
        )
    if kind == "foreign_key":
        referenced = {n.execution_id for n in batch.nodes}
        referenced.update(a.execution_id for a in batch.attempts)
        referenced.update(e.execution_id for e in batch.events)
        for eid in sorted(referenced):
            if not exists(eid):
                return missing_execution(eid)
    return StoreError(f"writing a batch failed on {url}: {exc}")
