"""PostgreSQL: several executions' driver batches in one fenced statement (group commit).

A server's driver slots each drive one execution and commit a batch per turn (a task's end
and its successor's start). :func:`write_fenced_many` writes the batches of several slots
that are waiting at the same moment as ONE statement, in one transaction: one round trip,
one commit, one plan, instead of one of each per batch.

Invariants:

- Fenced per execution, as the single-execution statement is: the ``fence`` CTE updates
  (and so locks) the row of each execution whose lease the batch's owner holds, and every
  record is written only if its execution is in the fence. A batch whose lease is lost
  writes nothing and is answered :class:`~airfoil.core.errors.ConflictError`; the other
  batches of the statement are written and committed.
- All or nothing for everything else: the statement runs in autocommit, so an error (a
  duplicate event, the connection lost) leaves none of the batches written; the caller
  then writes each batch on its own (:meth:`SqlMetaStore.write`), which reports each
  batch's own error. Where the commit's outcome is unknown (the connection broke during
  it), a batch whose first event is in the store counts as written, never written twice.
- Only batches this statement can hold are accepted (:func:`groupable`): a lease, no
  execution record and no cache entries, at least one event, every record of the leased
  execution, and no two batches of the same execution.
"""

from __future__ import annotations

from typing import Any

from airfoil.core.records import StoreBatch, encode_json
from airfoil.store.sql._pg_arrays import Int8Array, TextArray

__all__ = ["FENCED_MANY", "groupable", "params_of"]

_KEY = 'VARCHAR[] COLLATE "C"'

#: The statement (psycopg parameters, arrays binary). It returns one row per execution
#: whose fence matched: the batches of those executions were written.
FENCED_MANY = f"""\
WITH fence AS (
  UPDATE executions AS x SET lease_owner = f.owner
  FROM unnest(%(ids)b::{_KEY}, %(owners)b::{_KEY}) AS f(id, owner)
  WHERE x.id = f.id AND x.lease_owner = f.owner
  RETURNING x.id
),
write_n AS (
  INSERT INTO nodes (execution_id, node_id, record)
  SELECT r.eid, r.node_id, r.record
  FROM unnest(%(n_eid)b::{_KEY}, %(n_node_id)b::{_KEY}, %(n_record)b::TEXT[])
    AS r(eid, node_id, record)
  WHERE r.eid IN (SELECT id FROM fence)
  ON CONFLICT (execution_id, node_id) DO UPDATE SET record = excluded.record
),
write_a AS (
  INSERT INTO attempts (execution_id, node_id, attempt, record)
  SELECT r.eid, r.node_id, r.attempt, r.record
  FROM unnest(%(a_eid)b::{_KEY}, %(a_node_id)b::{_KEY}, %(a_attempt)b::INTEGER[],
              %(a_record)b::TEXT[]) AS r(eid, node_id, attempt, record)
  WHERE r.eid IN (SELECT id FROM fence)
  ON CONFLICT (execution_id, node_id, attempt) DO UPDATE SET record = excluded.record
),
write_e AS (
  INSERT INTO events (execution_id, seq, cause_id, record)
  SELECT r.eid, r.seq, r.cause_id, r.record
  FROM unnest(%(e_eid)b::{_KEY}, %(e_seq)b::BIGINT[], %(e_cause_id)b::BIGINT[],
              %(e_record)b::TEXT[]) AS r(eid, seq, cause_id, record)
  WHERE r.eid IN (SELECT id FROM fence)
)
SELECT id FROM fence"""


def groupable(batch: StoreBatch) -> bool:
    """Whether ``batch`` may be written by :data:`FENCED_MANY` (see the invariants)."""
    if batch.lease is None or batch.execution is not None or batch.cache_puts:
        return False
    if not batch.events:
        return False  # (a write whose outcome is unknown is looked up by its first event)
    eid = batch.lease[0]
    return (
        all(n.execution_id == eid for n in batch.nodes)
        and all(a.execution_id == eid for a in batch.attempts)
        and all(e.execution_id == eid for e in batch.events)
    )


def params_of(batches: list[StoreBatch]) -> dict[str, Any]:
    """The parameters of :data:`FENCED_MANY` for ``batches`` (each :func:`groupable`, of
    distinct executions)."""
    ids: list[str] = []
    owners: list[str] = []
    n_eid: list[str] = []
    n_node: list[str] = []
    n_rec: list[bytes] = []
    a_eid: list[str] = []
    a_node: list[str] = []
    a_att: list[int] = []
    a_rec: list[bytes] = []
    e_eid: list[str] = []
    e_seq: list[int] = []
    e_cause: list[int] = []
    e_rec: list[bytes] = []
    for b in batches:
        assert b.lease is not None
        eid, owner = b.lease
        ids.append(eid)
        owners.append(owner)
        for n in b.nodes:
            n_eid.append(eid)
            n_node.append(n.node_id)
            n_rec.append(encode_json(n))
        for a in b.attempts:
            a_eid.append(eid)
            a_node.append(a.node_id)
            a_att.append(a.attempt)
            a_rec.append(encode_json(a))
        for e in b.events:
            e_eid.append(eid)
            e_seq.append(e.seq)
            e_cause.append(e.cause_id)
            e_rec.append(encode_json(e))
    return {
        "ids": TextArray(ids),
        "owners": TextArray(owners),
        "n_eid": TextArray(n_eid),
        "n_node_id": TextArray(n_node),
        "n_record": TextArray(n_rec),
        "a_eid": TextArray(a_eid),
        "a_node_id": TextArray(a_node),
        "a_attempt": Int8Array(a_att),
        "a_record": TextArray(a_rec),
        "e_eid": TextArray(e_eid),
        "e_seq": Int8Array(e_seq),
        "e_cause_id": Int8Array(e_cause),
        "e_record": TextArray(e_rec),
    }
