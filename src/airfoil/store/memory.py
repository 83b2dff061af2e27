"""The in-memory metadata store: the reference behaviour of :class:`MetaStore`.

Shipped to users (through ``airfoil.testing``) as a test double, so it behaves exactly like
the SQL backends, which pass the same conformance suite
(:mod:`airfoil.testing.conformance`).

Invariants:

- Every record is stored as its msgspec JSON encoding and decoded on each read, so a caller
  can never mutate stored state through a record it wrote or read, and a record comes back
  exactly as it would from a SQL backend.
- One lock guards all state; every method is atomic with respect to every other.
- ``write(batch)`` checks everything first (referenced executions exist, event ``seq``
  numbers are new) and only then mutates, so a failed batch leaves no trace.
- Orderings match the SQL backends: strings compare by code point (SQLite ``BINARY``,
  PostgreSQL ``COLLATE "C"``).
"""

from __future__ import annotations

import threading
from functools import partial
from typing import TypeVar

from airfoil.core.errors import ConflictError, NotFoundError
from airfoil.core.lazy_json import LazyDecoder
from airfoil.core.records import (
    AttemptRecord,
    CacheEntry,
    EventRecord,
    ExecutionHead,
    ExecutionRecord,
    ExecutionRunHead,
    NodeRecord,
    StoreBatch,
    encode_json,
)
from airfoil.store._memory_cache_scopes import MemoryCacheScopeStore
from airfoil.store._memory_control import MemoryControlInbox
from airfoil.store._memory_observability import MemoryObservabilityStore
from airfoil.store._memory_schedules import MemoryScheduleStore
from airfoil.store._memory_scheduling import MemorySchedulingStore
from airfoil.store._records import ExecutionDecoder, record_json
from airfoil.store._taken import IdempotencyKeyTaken, execution_taken, launch_taken
from airfoil.store._unreadable import OnUnreadable, decode_each, decode_one, decode_parts
from airfoil.store.base import MetaStore, check_page, lease_lost, missing_execution

__all__ = ["MemoryMetaStore"]

_T = TypeVar("_T")

_HEAD = LazyDecoder(ExecutionHead)
_RUN_HEAD = LazyDecoder(ExecutionRunHead)
_NODE = LazyDecoder(NodeRecord)
_ATTEMPT = LazyDecoder(AttemptRecord)
_EVENT = LazyDecoder(EventRecord)
_CACHE = LazyDecoder(CacheEntry)


class _ExecutionRow:
    """One stored execution: the columns a SQL backend indexes, the lease, the record."""

    __slots__ = (
        "created_at",
        "domain",
        "lease_expires_at",
        "lease_owner",
        "name",
        "phase",
        "project",
        "record",
        "workflow",
    )

    def __init__(self, record: ExecutionRecord, data: bytes) -> None:
        self.project = record.project
        self.domain = record.domain
        self.name = record.name or record.id
        self.workflow = record.workflow
        self.phase = record.phase
        self.created_at = record.created_at
        self.record = data
        self.lease_owner: str | None = None
        self.lease_expires_at: float | None = None

    def matches(
        self, project: str | None, domain: str | None, workflow: str | None, phase: str | None
    ) -> bool:
        return (
            (project is None or self.project == project)
            and (domain is None or self.domain == domain)
            and (workflow is None or self.workflow == workflow)
            and (phase is None or self.phase == phase)
        )


class MemoryMetaStore(
    MemoryCacheScopeStore,
    MemoryControlInbox,
    MemoryScheduleStore,
    MemorySchedulingStore,
    MemoryObservabilityStore,
    MetaStore,
):
    """A thread-safe, in-process :class:`MetaStore`: the reference for every backend."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executions: dict[str, _ExecutionRow] = {}
        #: (project, domain, name) of every execution: names are unique within those
        self._names: set[tuple[str, str, str]] = set()
        #: (project, idempotency key) -> the execution that holds it (as SQL's unique index)
        self._keys: dict[tuple[str, str], str] = {}
        self._nodes: dict[str, dict[str, bytes]] = {}
        self._attempts: dict[str, dict[tuple[str, int], bytes]] = {}
        self._events: dict[str, dict[int, bytes]] = {}
        # key -> (task, created_at, record)
        self._cache: dict[str, tuple[str, float, bytes]] = {}
        # key -> (owner, expires_at)
        self._reservations: dict[str, tuple[str, float]] = {}
        #: execution id -> its spec's JSON, apart from its record (as the SQL store's
        #: ``execution_specs``): written where its decoder has not seen it (``spec_stored``)
        self._specs: dict[str, bytes] = {}
        self._decoder = ExecutionDecoder()

    # --- writes -------------------------------------------------------------------------

    def write(self, batch: StoreBatch) -> None:
        execution = batch.execution
        exec_data = record_json(execution) if execution is not None else b""
        spec_data = None
        if execution is not None and not self._decoder.spec_stored(execution):
            spec_data = encode_json(execution.spec)
        nodes = [(n.execution_id, n.node_id, encode_json(n)) for n in batch.nodes]
        attempts = [
            (a.execution_id, (a.node_id, a.attempt), encode_json(a)) for a in batch.attempts
        ]
        events = [(e.execution_id, e.seq, encode_json(e)) for e in batch.events]
        cache = [(c.key, c.parts.task, c.created_at, encode_json(c)) for c in batch.cache_puts]
        with self._lock:
            known = self._executions
            new_id = execution.id if execution is not None else None
            for eid in {r[0] for r in nodes} | {r[0] for r in attempts} | {r[0] for r in events}:
                if eid != new_id and eid not in known:
                    raise missing_execution(eid)
            if batch.lease is not None:
                held = known.get(batch.lease[0])
                if held is None or held.lease_owner != batch.lease[1]:
                    raise lease_lost(batch.lease[0])
            if execution is not None and execution.id not in known:
                named = (execution.project, execution.domain, execution.display_name)
                if named in self._names:
                    raise execution_taken(*named)
                if (execution.project, execution.idempotency_key) in self._keys:
                    raise IdempotencyKeyTaken(execution.project, execution.idempotency_key)
            elif execution is not None and (taken := launch_taken(batch)) is not None:
                raise taken  # its id launched by another launch first
            seen: set[tuple[str, int]] = set()
            for eid, seq, _ in events:
                if (eid, seq) in seen or seq in self._events.get(eid, ()):
                    raise ConflictError(
                        f"event seq {seq} of execution {eid!r} already exists; nothing of the "
                        "batch was written"
                    )
                seen.add((eid, seq))
            # Checks passed: nothing below can fail.
            if execution is not None:
                old = known.get(execution.id)
                row = _ExecutionRow(execution, exec_data)
                if old is not None:
                    row.lease_owner, row.lease_expires_at = old.lease_owner, old.lease_expires_at
                    row.name = old.name  # written by the launch only, as in SQL
                else:
                    self._names.add((row.project, row.domain, row.name))
                    if execution.idempotency_key:
                        self._keys[(row.project, execution.idempotency_key)] = execution.id
                known[execution.id] = row
                if spec_data is not None:
                    self._specs[execution.id] = spec_data
            for eid, node_id, data in nodes:
                self._nodes.setdefault(eid, {})[node_id] = data
            for eid, attempt_key, data in attempts:
                self._attempts.setdefault(eid, {})[attempt_key] = data
            for eid, seq, data in events:
                self._events.setdefault(eid, {})[seq] = data
            for key, task, created_at, data in cache:
                self._cache[key] = (task, created_at, data)
        if spec_data is not None:
            assert execution is not None
            self._decoder.stored(execution)

    # --- executions ---------------------------------------------------------------------

    def get_execution(self, execution_id: str) -> ExecutionRecord:
        with self._lock:
            row = self._executions.get(execution_id)
            data = row.record if row is not None else None
            spec = self._specs.get(execution_id)
        if data is None:
            raise NotFoundError(f"execution {execution_id!r} does not exist")
        return decode_one("execution", data, partial(self._decoder.decode, spec=spec))

    def idempotent_launch(self, project: str, key: str) -> str | None:
        with self._lock:
            return self._keys.get((project, key))

    def release_idempotency_key(self, execution_id: str, key: str) -> bool:
        with self._lock:
            row = self._executions.get(execution_id)
            held = row is not None and self._keys.get((row.project, key)) == execution_id
            if held:
                assert row is not None
                del self._keys[(row.project, key)]
            return held

    def find_executions(self, project: str, ref: str) -> list[tuple[str, str, str]]:
        with self._lock:
            return [
                (eid, row.domain, row.name)
                for eid, row in self._executions.items()
                if row.project == project and ref in (eid, row.name)
            ]

    def list_executions(
        self,
        *,
        project: str | None = None,
        domain: str | None = None,
        workflow: str | None = None,
        phase: str | None = None,
        limit: int = 50,
        offset: int = 0,
        on_unreadable: OnUnreadable | None = None,
    ) -> list[ExecutionRecord]:
        check_page(limit, offset)
        rows = self._newest_first(project, domain, workflow, phase)
        with self._lock:
            page = [(r[2], self._specs.get(r[1])) for r in rows[offset : offset + limit]]
        return [
            ex
            for data, spec in page
            for ex in decode_each(
                "execution", [data], partial(self._decoder.decode, spec=spec), on_unreadable
            )
        ]

    def list_execution_heads(
        self,
        *,
        project: str | None = None,
        domain: str | None = None,
        workflow: str | None = None,
        phase: str | None = None,
        limit: int = 50,
        offset: int = 0,
        on_unreadable: OnUnreadable | None = None,
    ) -> list[ExecutionHead]:
        check_page(limit, offset)
        rows = self._newest_first(project, domain, workflow, phase)
        page = (r[2] for r in rows[offset : offset + limit])
        return decode_each("execution", page, _HEAD.decode, on_unreadable)

    def list_run_heads(
        self,
        *,
        project: str | None = None,
        workflow: str | None = None,
        phase: str | None = None,
        limit: int = 50,
        offset: int = 0,
        domain: str | None = None,
    ) -> list[ExecutionRunHead]:
        check_page(limit, offset)
        rows = self._newest_first(project, domain, workflow, phase)
        return [_RUN_HEAD.decode(r[2]) for r in rows[offset : offset + limit]]

    def _newest_first(
        self, project: str | None, domain: str | None, workflow: str | None, phase: str | None
    ) -> list[tuple[float, str, bytes]]:
        """``(created_at, id, record)`` of the matching executions, newest first."""
        with self._lock:
            rows = [
                (row.created_at, eid, row.record)
                for eid, row in self._executions.items()
                if row.matches(project, domain, workflow, phase)
            ]
        rows.sort(reverse=True)
        return rows

    def execution_projects(self) -> list[str]:
        with self._lock:
            return sorted({row.project for row in self._executions.values()})

    def count_executions(
        self,
        *,
        project: str | None = None,
        domain: str | None = None,
        workflow: str | None = None,
        phase: str | None = None,
    ) -> int:
        with self._lock:
            return sum(
                1
                for row in self._executions.values()
                if row.matches(project, domain, workflow, phase)
            )

    # --- nodes, attempts, events --------------------------------------------------------

    def get_nodes(
        self, execution_id: str, *, on_unreadable: OnUnreadable | None = None
    ) -> list[NodeRecord]:
        with self._lock:
            items = sorted(self._nodes.get(execution_id, {}).items())
        return decode_parts("node", (d for _, d in items), _NODE.decode, on_unreadable)

    def get_node(self, execution_id: str, node_id: str) -> NodeRecord:
        with self._lock:
            data = self._nodes.get(execution_id, {}).get(node_id)
        if data is None:
            raise NotFoundError(f"node {node_id!r} of execution {execution_id!r} does not exist")
        return decode_one("node", data, _NODE.decode)

    def get_attempts(
        self,
        execution_id: str,
        node_id: str | None = None,
        *,
        on_unreadable: OnUnreadable | None = None,
    ) -> list[AttemptRecord]:
        with self._lock:
            items = sorted(
                (key, data)
                for key, data in self._attempts.get(execution_id, {}).items()
                if node_id is None or key[0] == node_id
            )
        return decode_parts("attempt", (d for _, d in items), _ATTEMPT.decode, on_unreadable)

    def get_events(
        self,
        execution_id: str,
        after_seq: int = 0,
        *,
        limit: int | None = None,
        on_unreadable: OnUnreadable | None = None,
    ) -> list[EventRecord]:
        if limit is not None:
            check_page(limit)
        with self._lock:
            items = sorted(
                (seq, data)
                for seq, data in self._events.get(execution_id, {}).items()
                if seq > after_seq
            )
        if limit is not None:
            items = items[:limit]
        return decode_parts("event", (d for _, d in items), _EVENT.decode, on_unreadable)

    # --- cache --------------------------------------------------------------------------

    def get_cache(self, key: str) -> CacheEntry | None:
        with self._lock:
            row = self._cache.get(key)
        return _CACHE.decode(row[2]) if row is not None else None

    def list_cache(self, *, task: str | None = None, limit: int = 1000) -> list[CacheEntry]:
        check_page(limit)
        with self._lock:
            rows = [
                (created_at, key, data)
                for key, (row_task, created_at, data) in self._cache.items()
                if task is None or row_task == task
            ]
        rows.sort(reverse=True)
        return [_CACHE.decode(r[2]) for r in rows[:limit]]

    def find_cache_by_task(self, task: str, limit: int = 20) -> list[CacheEntry]:
        return self.list_cache(task=task, limit=limit)

    def delete_cache(self, *, key: str | None = None, task: str | None = None) -> int:
        with self._lock:
            doomed = [
                k
                for k, (row_task, _, _) in self._cache.items()
                if (key is None or k == key) and (task is None or row_task == task)
            ]
            for k in doomed:
                del self._cache[k]
        return len(doomed)

    def reserve_cache(self, key: str, owner: str, now: float, ttl_s: float) -> str:
        with self._lock:
            held = self._reservations.get(key)
            if held is None or held[0] == owner or held[1] <= now:
                self._reservations[key] = (owner, now + ttl_s)
                return owner
            return held[0]

    def release_cache(self, key: str, owner: str) -> None:
        with self._lock:
            held = self._reservations.get(key)
            if held is not None and held[0] == owner:
                del self._reservations[key]

    # --- execution leases ---------------------------------------------------------------

    def acquire_lease(self, execution_id: str, owner: str, now: float, ttl_s: float) -> bool:
        with self._lock:
            row = self._executions.get(execution_id)
            if row is None:
                raise NotFoundError(f"execution {execution_id!r} does not exist")
            expires = row.lease_expires_at
            if (
                row.lease_owner is None
                or row.lease_owner == owner
                or (expires is not None and expires <= now)
            ):
                row.lease_owner, row.lease_expires_at = owner, now + ttl_s
                return True
            return False

    def release_lease(self, execution_id: str, owner: str) -> None:
        with self._lock:
            row = self._executions.get(execution_id)
            if row is not None and row.lease_owner == owner:
                row.lease_owner = row.lease_expires_at = None

    def get_lease(self, execution_id: str) -> tuple[str, float] | None:
        with self._lock:
            row = self._executions.get(execution_id)
            if row is None or row.lease_owner is None or row.lease_expires_at is None:
                return None
            return row.lease_owner, row.lease_expires_at
