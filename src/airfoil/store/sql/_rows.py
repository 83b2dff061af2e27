"""The rows and array parameters the SQL store writes, from a batch's records (``_store``).

The arrays of the fenced batch (``_statements._fenced``) and of the general path's array
upserts go in binary (``_pg_arrays``); of a node or attempt given twice in one upsert, the
last record is kept (what writing them one by one leaves).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airfoil.core.records import (
    AttemptRecord,
    CacheEntry,
    EventRecord,
    ExecutionRecord,
    NodeRecord,
    StoreBatch,
    encode_json,
    execution_head,
)
from airfoil.store._records import record_json
from airfoil.store.base import check_page
from airfoil.store.sql._pg_arrays import Float8Array, Int8Array, TextArray

__all__ = [
    "attempt_arrays",
    "attempt_row",
    "cache_row",
    "event_arrays",
    "event_row",
    "events_params",
    "execution_row",
    "fenced_params",
    "node_arrays",
    "node_row",
    "positional_rows",
    "spec_row",
]


def execution_row(ex: ExecutionRecord) -> dict[str, Any]:
    return {
        "id": ex.id,
        "project": ex.project,
        "domain": ex.domain,
        "workflow": ex.workflow,
        "phase": ex.phase,
        "created_at": ex.created_at,
        "record": record_json(ex).decode(),  # its spec apart (``execution_specs``, written once)
        "head": encode_json(execution_head(ex)).decode(),
        "name": ex.name or ex.id,
        "idempotency_key": ex.idempotency_key or None,
    }


def events_params(execution_id: str, after_seq: int, limit: int | None) -> dict[str, Any]:
    """The parameters of ``get_events`` (``limit`` None) or ``get_events_page``."""
    if limit is None:
        return {"eid": execution_id, "after": after_seq}
    check_page(limit)
    return {"eid": execution_id, "after": after_seq, "limit": limit, "offset": 0}


def node_row(n: NodeRecord) -> dict[str, Any]:
    return {"execution_id": n.execution_id, "node_id": n.node_id, "record": encode_json(n).decode()}


def attempt_row(a: AttemptRecord) -> dict[str, Any]:
    return {
        "execution_id": a.execution_id,
        "node_id": a.node_id,
        "attempt": a.attempt,
        "record": encode_json(a).decode(),
    }


def positional_rows(
    batch: StoreBatch,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """SQLite: a batch's node, attempt and event rows as tuples, in the order of
    ``_sql_text.Positional``'s parameters (those of ``node_row``, ``attempt_row`` and
    ``event_row``)."""
    enc = encode_json
    return (
        [(n.execution_id, n.node_id, enc(n).decode()) for n in batch.nodes],
        [(a.execution_id, a.node_id, a.attempt, enc(a).decode()) for a in batch.attempts],
        [(e.execution_id, e.seq, enc(e).decode(), e.cause_id) for e in batch.events],
    )


def node_arrays(nodes: list[NodeRecord]) -> dict[str, Any]:
    """A batch's nodes as the parameters of ``upsert_nodes_arrays``; of a node given twice,
    the last record (what writing them one by one leaves: one upsert may not touch a row
    twice)."""
    last = {(n.execution_id, n.node_id): n for n in nodes}
    return {
        "execution_id": TextArray([k[0] for k in last]),
        "node_id": TextArray([k[1] for k in last]),
        "record": TextArray.of_json(list(last.values())),
    }


def attempt_arrays(attempts: list[AttemptRecord]) -> dict[str, Any]:
    """A batch's attempts as the parameters of ``upsert_attempts_arrays`` (of an attempt
    given twice, the last record)."""
    last = {(a.execution_id, a.node_id, a.attempt): a for a in attempts}
    return {
        "execution_id": TextArray([k[0] for k in last]),
        "node_id": TextArray([k[1] for k in last]),
        "attempt": Int8Array([k[2] for k in last]),
        "record": TextArray.of_json(list(last.values())),
    }


def event_row(e: EventRecord) -> dict[str, Any]:
    return {
        "execution_id": e.execution_id,
        "seq": e.seq,
        "cause_id": e.cause_id,
        "record": encode_json(e).decode(),
    }


def event_arrays(events: list[EventRecord]) -> dict[str, Any]:
    return {
        "execution_id": [e.execution_id for e in events],
        "seq": [e.seq for e in events],
        "cause_id": [e.cause_id for e in events],
        "record": [encode_json(e).decode() for e in events],
    }


def cache_row(c: CacheEntry) -> dict[str, Any]:
    return {
        "key": c.key,
        "task": c.parts.task,
        "created_at": c.created_at,
        "record": encode_json(c).decode(),
    }


def spec_row(ex: ExecutionRecord) -> dict[str, Any]:
    """The ``execution_specs`` row of ``ex`` (revision 0021)."""
    return {"execution_id": ex.id, "spec": encode_json(ex.spec).decode()}


def fenced_params(
    batch: StoreBatch, spec_stored: Callable[[ExecutionRecord], bool]
) -> dict[str, Any] | None:
    """The parameters of the fenced statement for a batch with a lease (``kinds``: which
    record kinds it holds, see ``SqlText.fenced``), or None if a record of it belongs to
    another execution than the leased one, or its execution's spec is not known to be
    stored (``spec_stored``; the statement writes no spec): then the general path writes it,
    the lease checked in its transaction."""
    assert batch.lease is not None
    eid, owner = batch.lease
    params: dict[str, Any] = {"id": eid, "owner": owner}
    ex = batch.execution
    if ex is not None:
        if ex.id != eid or not spec_stored(ex):
            return None
        row = execution_row(ex)
        # the key, the name and the idempotency key: written by the launch only
        del row["id"], row["name"], row["idempotency_key"]
        params.update(row)
    kinds = ""
    # Every record must be the leased execution's (checked on all of them first, so the
    # records below are told apart by their keys within it). Of a node, attempt or cache
    # key given twice, its last record (one upsert may not touch a row twice; writing them
    # one by one leaves the last), as ``node_arrays`` keeps.
    one = {eid}
    if batch.nodes:
        if {n.execution_id for n in batch.nodes} != one:
            return None
        kinds += "n"
        nodes = {n.node_id: n for n in batch.nodes}
        params["n_node_id"] = TextArray(list(nodes))
        params["n_record"] = TextArray.of_json(list(nodes.values()))
    if batch.attempts:
        if {a.execution_id for a in batch.attempts} != one:
            return None
        kinds += "a"
        attempts = list({(a.node_id, a.attempt): a for a in batch.attempts}.values())
        params["a_node_id"] = TextArray([a.node_id for a in attempts])
        params["a_attempt"] = Int8Array([a.attempt for a in attempts])
        params["a_record"] = TextArray.of_json(attempts)
    events = batch.events
    if events:
        if {e.execution_id for e in events} != one:
            return None
        kinds += "e"
        params["e_seq"] = Int8Array([e.seq for e in events])
        params["e_cause_id"] = Int8Array([e.cause_id for e in events])
        params["e_record"] = TextArray.of_json(events)
    cache = list({c.key: c for c in batch.cache_puts}.values())
    if cache:
        kinds += "c"
        params["c_key"] = TextArray([c.key for c in cache])
        params["c_task"] = TextArray([c.parts.task for c in cache])
        params["c_created_at"] = Float8Array([c.created_at for c in cache])
        params["c_record"] = TextArray.of_json(cache)
    params["kinds"] = kinds
    return params
