"""The reads an execution's detail and a listing make, each one statement (``_store``):
:meth:`~airfoil.store.base.MetaStore.view_execution` (the record or head, lease, newest
event's seq, and the nodes and attempts if an event came since) and
:meth:`~airfoil.store.base.MetaStore.page_execution_heads_leased` (a page of heads with its
total and its rows' leases).

Invariant: one statement each, so what comes back is one snapshot (a detail's seq never
runs ahead of its nodes), and one round trip to the database: under load each round trip
is a wait for a core, the API thread's and the database backend's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airfoil.core.errors import NotFoundError
from airfoil.core.lazy_json import LazyDecoder
from airfoil.core.records import AttemptRecord, ExecutionHead, ExecutionRecord, NodeRecord
from airfoil.store._unreadable import OnUnreadable, decode_each, decode_one, decode_parts
from airfoil.store.base import ExecutionView

if TYPE_CHECKING:
    from airfoil.store.sql._store import SqlMetaStore

__all__ = ["page_execution_heads_leased", "view_execution"]

_HEAD = LazyDecoder(ExecutionHead)
_NODE = LazyDecoder(NodeRecord)
_ATTEMPT = LazyDecoder(AttemptRecord)


def _lease(owner: Any, expires_at: Any) -> tuple[str, float] | None:
    if owner is None or expires_at is None:
        return None
    return str(owner), float(expires_at)


def view_execution(
    store: SqlMetaStore,
    execution_id: str,
    after_seq: int,
    full: bool,
    on_unreadable: OnUnreadable | None = None,
) -> ExecutionView:
    # the head variant reads the whole record where the execution ended since ``after_seq``
    sql = store._s.view_execution if full else store._s.view_execution_head
    rows = store._read(sql, {"eid": execution_id, "after": after_seq}, "reading an execution")
    if not rows or rows[0][0] != 0:
        raise NotFoundError(f"execution {execution_id!r} does not exist")
    _, _, whole, record, spec, owner, expires_at, last = rows[0]
    rec: ExecutionRecord | ExecutionHead
    if whole:
        rec = decode_one("execution", record, lambda r: store.records.decode(r, spec))
    else:
        rec = decode_one("execution", record, _HEAD.decode)
    last_seq = int(last or 0)
    if last_seq <= after_seq:
        return ExecutionView(rec, _lease(owner, expires_at), after_seq, None, None)
    node_rows = (r[3] for r in rows if r[0] == 1)
    nodes = decode_parts("node", node_rows, _NODE.decode, on_unreadable)
    attempt_rows = (r[3] for r in rows if r[0] == 2)
    attempts = decode_parts("attempt", attempt_rows, _ATTEMPT.decode, on_unreadable)
    return ExecutionView(rec, _lease(owner, expires_at), last_seq, nodes, attempts)


def page_execution_heads_leased(
    store: SqlMetaStore,
    filters: dict[str, Any],
    limit: int,
    offset: int,
    on_unreadable: OnUnreadable | None = None,
) -> tuple[list[ExecutionHead], int, dict[str, tuple[str, float]]]:
    sql = store._s.page_execution_heads(tuple(filters))
    rows = store._read(sql, dict(filters, limit=limit, offset=offset), "listing executions")
    if not rows:
        total = 0 if offset == 0 else store.count_executions(**filters)
        return [], total, {}
    heads: list[ExecutionHead] = []
    leases = {}
    for r in rows:
        # an unreadable row: left out (its total still counts it)
        found = decode_each("execution", [r[0]], _HEAD.decode, on_unreadable)
        if not found:
            continue
        head = found[0]
        heads.append(head)
        lease = _lease(r[2], r[3])
        if lease is not None and head.phase in ("queued", "running"):
            leases[head.id] = lease
    return heads, int(rows[0][1]), leases
