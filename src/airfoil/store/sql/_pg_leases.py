"""A lease's take (or renewal) and a server's claim on PostgreSQL, one statement each.

Each runs in autocommit, its own transaction, in one round trip: a transaction of its own
(``BEGIN; SET LOCAL synchronous_commit TO off``, the statement, ``COMMIT``) was three, and a
server's drive of ~100 trivial tasks made ~1.7 claims (some finding nothing) and a take. Below
``power`` the statement commits without waiting for its WAL flush, as the transaction did:
``set_config('synchronous_commit', 'off', true)`` in its select list holds for its own
transaction (as in a fenced batch, ``_statements._fenced``); a claim that finds nothing
evaluates none (it wrote nothing). Why a lazy take is safe: see ``SqlMetaStore.__init__``.

Invariants (those of the transactions they replace):

- A take's ``UPDATE`` waits for a fenced batch's row lock, like the transaction's did, and
  takes the lease only while it is free, held by ``owner``, or expired.
- A take answers whether it took the lease and whether the execution exists, read in the
  same statement (its snapshot: an execution deleted meanwhile reads as existing, and its
  ``UPDATE`` found nothing: not taken, as before).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airfoil.store.sql._store import SqlMetaStore

__all__ = ["claim_sql", "take_lease"]

_LAZY = ", set_config('synchronous_commit', 'off', true)"

_TAKE = """
WITH took AS (
    UPDATE executions SET lease_owner = %(owner)s, lease_expires_at = %(expires)s
    WHERE id = %(id)s
      AND (lease_owner IS NULL OR lease_owner = %(owner)s OR lease_expires_at <= %(now)s)
    RETURNING id
)
SELECT (SELECT count(*) FROM took), EXISTS (SELECT 1 FROM executions WHERE id = %(id)s){lazy}
"""

_CLAIM = """
WITH claimed AS (
    UPDATE executions SET lease_owner = %(owner)s, lease_expires_at = %(expires)s
    WHERE id = (
        SELECT id FROM executions
        WHERE phase IN ('queued', 'running')
          AND (lease_owner IS NULL OR lease_expires_at <= %(now)s)
          AND record LIKE %(pattern)s
          AND NOT (id = ANY(%(exclude)s))
        ORDER BY created_at, id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id
)
SELECT id{lazy} FROM claimed
"""


def _lazy(store: SqlMetaStore) -> str:
    return _LAZY if store._lazy else ""  # below ``power``


def claim_sql(store: SqlMetaStore) -> str:
    """The claim's statement (parameters: ``owner``, ``now``, ``expires``, ``pattern``,
    ``exclude``; it returns the claimed id, or no row)."""
    return _CLAIM.format(lazy=_lazy(store))


def take_lease(store: SqlMetaStore, params: dict[str, Any]) -> bool | None:
    """Take (or renew) a lease (``id``, ``owner``, ``now``, ``expires``): whether it was
    taken, or None if the execution does not exist. Retried as an idempotent write."""
    sql = _TAKE.format(lazy=_lazy(store))

    def take(cur: Any) -> bool | None:
        cur.execute(sql, params)
        took, exists = cur.fetchone()[:2]
        return True if took == 1 else (False if exists else None)

    return store._transaction("acquiring a lease", take, idempotent=True, begin="")
