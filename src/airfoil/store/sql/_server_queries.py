"""Queries the server's engine loop needs beyond the MetaStore contract.

:func:`claim_execution` lets several server processes share one database: each call hands
at most one unfinished execution (``queued`` or ``running``) whose lease is free or expired to
the caller, and takes its lease in the same statement, so two claimers never get the same
execution. On PostgreSQL the candidate row is locked with ``FOR UPDATE SKIP LOCKED`` (claimers
skip each other's rows instead of waiting); on SQLite the statement runs under the database
write lock. The lease is the same one :meth:`MetaStore.acquire_lease` takes, so the engine's
``drive`` under the same owner, told when it was claimed, does not take it again.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from airfoil.store.sql._pg_leases import claim_sql
from airfoil.store.sql._store import SqlMetaStore

__all__ = ["claim_execution"]

_CLAIM_SQLITE = """
UPDATE executions SET lease_owner = :owner, lease_expires_at = :expires
WHERE id = (
    SELECT id FROM executions
    WHERE phase IN ('queued', 'running')
      AND (lease_owner IS NULL OR lease_expires_at <= :now)
      AND record LIKE :pattern
      {exclude}
    ORDER BY created_at, id
    LIMIT 1
)
RETURNING id
"""


def claim_execution(
    store: SqlMetaStore,
    owner: str,
    now: float,
    ttl_s: float,
    code_root_prefix: str = "",
    exclude: Collection[str] = (),
) -> str | None:
    """Take the lease of the oldest unfinished execution nobody drives; return its id.

    Args:
        store: the SQL metadata store.
        owner: the lease owner (the engine's ``owner``).
        now: the current time (seconds since the epoch).
        ttl_s: how long the lease holds unless renewed.
        code_root_prefix: claim only executions whose ``code_root`` starts with this (a server
            takes its own, registered-package executions, never a local run that was stopped).
        exclude: executions never to claim, even with an expired lease: those this process
            drives already, or holds paused through a database outage (their lease may have
            lapsed while the database was away; they are resumed by their own driver).

    Returns:
        The claimed execution's id, or None if there is nothing to claim.
    """
    params: dict[str, Any] = {"owner": owner, "now": now, "expires": now + ttl_s}
    begin = None  # SQLite: a transaction (BEGIN IMMEDIATE: the write lock)
    if store.dialect == "postgresql":  # one statement in autocommit (``_pg_leases``)
        sql, begin = claim_sql(store), ""
        params["exclude"] = list(exclude)
    else:
        names = [f"x{i}" for i in range(len(exclude))]
        params.update(zip(names, exclude, strict=True))
        listed = ", ".join(f":{n}" for n in names)
        sql = _CLAIM_SQLITE.format(exclude=f"AND id NOT IN ({listed})" if names else "")
    params["pattern"] = f'%"code_root":"{code_root_prefix}%' if code_root_prefix else "%"

    def claim(cur: Any) -> str | None:
        cur.execute(sql, params)
        row = cur.fetchone()
        return None if row is None else str(row[0])

    got = store._transaction("claiming an execution", claim, begin=begin)
    if got is not None:  # a take, as ``acquire_lease`` records one (its first batch waits)
        store._leases_on_disk.acquired((got, owner), True, now, now + ttl_s)
    return got
