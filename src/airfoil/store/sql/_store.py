"""The SQL metadata store: :class:`SqlMetaStore` on SQLite or PostgreSQL.

Invariants:

- Each call runs on the calling thread's own connection (see ``_connect``) and every write
  is one explicit transaction: ``write(batch)`` commits all of a batch or nothing, and a
  lease or a reservation is decided inside one transaction that holds the row (SQLite: the
  database write lock, PostgreSQL: the row lock), so exactly one contender wins across
  threads and processes.
- Records are stored as their msgspec JSON text and decoded on read: what comes back equals
  what was written, and no caller shares state with the store.
- Driver errors never escape: integrity errors become ``ConflictError`` (duplicate event) or
  ``NotFoundError`` (unknown execution), everything else ``StoreError`` naming the URL.
- Transient failures (connection lost or refused, serialization failure, deadlock, timeout;
  see ``_retry``) are retried on a fresh connection with backoff and jitter within the
  store's :class:`RetryPolicy` budget, so a database blip only slows a caller down. A batch
  whose ``COMMIT`` broke on a lost connection is looked up (its first event) before it is
  written again, so a retry never writes it twice. Only when the budget is spent does
  :class:`TransientStoreError` reach the caller.
- PostgreSQL below ``power``: a driver's fenced batch commits lazily (without waiting for
  its WAL flush) unless it ends its execution, and stays in ``unflushed`` until PostgreSQL
  reports that WAL flushed; after a connection broke, the batches PostgreSQL lost are
  written again, in order, before the next fenced write or lease release (``_unflushed``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from functools import partial
from typing import Any, TypeVar

from airfoil.core.errors import (
    InvalidInputError,
    NotFoundError,
    StoreError,
    TransientStoreError,
)
from airfoil.core.lazy_json import LazyDecoder
from airfoil.core.phases import ExecutionPhase
from airfoil.core.records import (
    AttemptRecord,
    EventRecord,
    ExecutionHead,
    ExecutionRecord,
    ExecutionRunHead,
    NodeRecord,
    StoreBatch,
)
from airfoil.store._records import ExecutionDecoder
from airfoil.store._unreadable import OnUnreadable, decode_each, decode_one, decode_parts
from airfoil.store.base import (
    ExecutionView,
    MetaStore,
    check_page,
    lease_lost,
    missing_execution,
)
from airfoil.store.sql._cache import SqlCacheStore
from airfoil.store.sql._cache_scopes import SqlCacheScopeStore
from airfoil.store.sql._connect import (
    Connections,
    Connector,
    EngineConnector,
    SqliteConnector,
    create_engine,
    parse_url,
    sqlite_path,
)
from airfoil.store.sql._control import SqlControlInbox
from airfoil.store.sql._idempotency import SqlIdempotencyKeys, batch_refused
from airfoil.store.sql._migrate import ensure_schema
from airfoil.store.sql._observability import SqlObservabilityStore
from airfoil.store.sql._pg_leases import take_lease
from airfoil.store.sql._retry import RetryPolicy, is_transient, nul_refused
from airfoil.store.sql._rows import (
    attempt_arrays,
    attempt_row,
    cache_row,
    event_arrays,
    event_row,
    events_params,
    execution_row,
    fenced_params,
    node_arrays,
    node_row,
    positional_rows,
    spec_row,
)
from airfoil.store.sql._schedules import SqlScheduleStore
from airfoil.store.sql._scheduling import SqlSchedulingStore
from airfoil.store.sql._sql_text import EXECUTION_FILTERS, SqlText, sql_for
from airfoil.store.sql._unflushed import FlushedTakes, UnflushedBatches

__all__ = ["SqlMetaStore"]

_T = TypeVar("_T")

#: PostgreSQL: which of the given first events (``eids``, ``seqs``) are stored
_STORED_FIRSTS = (
    "SELECT execution_id, seq FROM events WHERE (execution_id, seq) IN "
    "(SELECT * FROM unnest(%(eids)s::text[], %(seqs)s::int8[]))"
)

_HEAD = LazyDecoder(ExecutionHead)
_RUN_HEAD = LazyDecoder(ExecutionRunHead)
_NODE = LazyDecoder(NodeRecord)
_ATTEMPT = LazyDecoder(AttemptRecord)
_EVENT = LazyDecoder(EventRecord)
#: a reader's report of the records it leaves out (None: a record that does not decode raises)
_Report = OnUnreadable | None


class SqlMetaStore(
    SqlIdempotencyKeys,
    SqlCacheStore,
    SqlCacheScopeStore,
    SqlControlInbox,
    SqlScheduleStore,
    SqlSchedulingStore,
    SqlObservabilityStore,
    MetaStore,
):
    """A :class:`MetaStore` in SQLite (the embedded default) or PostgreSQL (servers).

    Args:
        url: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` or
            ``postgresql+psycopg://user:password@host:5432/database``. Query parameters go
            to the driver (e.g. ``?options=-csearch_path%3Dmyschema`` on PostgreSQL).
        timeout_s: how long to wait for the SQLite write lock, or for a PostgreSQL server
            to accept a connection.
        durability: ``process`` (SQLite ``synchronous=NORMAL``) or ``power`` (``FULL``).
            PostgreSQL: under ``power`` every session sets ``synchronous_commit=on``; under
            ``process`` a driver's batches (but the one that ends its execution) and a
            lease's take and renewal commit without waiting for their WAL flush, and the
            store keeps each batch until PostgreSQL reports it flushed, to write it again
            if PostgreSQL crashed meanwhile (``_unflushed``).
        retry: how long and how often a transient failure is retried (default: two
            minutes of exponential backoff with jitter; ``RetryPolicy(budget_s=0)``: never).

    Opening the store connects, and migrates the schema to the newest revision if the
    database is empty or older (see :func:`airfoil.store.sql.migrate`).

    Raises:
        ConfigError: the URL is not a supported database URL.
        StoreError: the database cannot be reached, or is newer than this code.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 30.0,
        durability: str = "process",
        retry: RetryPolicy | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        #: decodes execution records, each workflow version's spec once (``_records``)
        self.records = ExecutionDecoder()
        #: Failures retried so far (all threads; a metric, not exact under contention).
        self.retries = 0
        path = sqlite_path(url)
        connector: Connector
        sa_dialect: Any = None
        if path is not None:  # the embedded default: sqlite3 straight, no SQLAlchemy
            connector = SqliteConnector(path, timeout_s, durability)
        else:
            engine = create_engine(parse_url(url), timeout_s, durability)
            connector = EngineConnector(engine)
            sa_dialect = engine.dialect
        self.url = connector.url
        dbapi = connector.dbapi
        self.dialect: str = connector.dialect
        self._error: type[Exception] = dbapi.Error
        self._integrity_error: type[Exception] = dbapi.IntegrityError
        self._broken = (dbapi.OperationalError, dbapi.InterfaceError)
        self._dbapi: Any = dbapi
        self._conns = Connections(connector)
        #: PostgreSQL below ``power``: a driver's fenced batches commit lazily (``_unflushed``)
        self._lazy = self.dialect == "postgresql" and durability != "power"
        #: the lazy batches PostgreSQL has not reported flushed yet
        self.unflushed = UnflushedBatches()
        #: the leases (execution, owner) a synchronous batch has flushed the take of
        self._leases_on_disk = FlushedTakes()
        try:
            ensure_schema(self._conns.open().cursor, self.dialect, url, self.url, timeout_s)
            self._s: SqlText = sql_for(self.dialect, sa_dialect)
            # A lease's take, renewal and claim, PostgreSQL below ``power`` (``_lazy``):
            # they commit without waiting for their WAL flush (one flush, ~1-1.5 ms of
            # this VM's disk, fewer per execution; ``_pg_leases``). Safe because no lease
            # is trusted on its own record: every batch is fenced on the lease in its own
            # (synchronous) statement, so a take or renewal lost with a PostgreSQL crash
            # can only make the holder's next batch fail as a lost lease (it writes
            # nothing). A synchronous commit after it flushes it too (the WAL is one
            # ordered stream). A release waits (see ``release_lease``).
            #: How a write of one idempotent statement begins (``_transaction``'s ``begin``):
            #: PostgreSQL, in autocommit (no BEGIN and COMMIT: 2 of 3 round trips); SQLite,
            #: as any write (BEGIN IMMEDIATE: no round trips to save).
            self._one_statement: str | None = "" if self.dialect == "postgresql" else None
        except self._error as exc:
            self._conns.close()
            raise StoreError(f"cannot read the schema version of {self.url}: {exc}") from exc
        except BaseException:
            self._conns.close()
            raise

    def __repr__(self) -> str:
        return f"SqlMetaStore({self.url!r})"

    def release_thread_connection(self) -> None:
        self._conns.release()

    # --- plumbing -----------------------------------------------------------------------

    def _cursor(self) -> Any:
        try:
            return self._conns.local.held.cursor
        except AttributeError:
            busy = self.unflushed.busy()
            held = self._conns.open()
            if busy and not held.reused:  # a new backend: PostgreSQL may have restarted
                # (a kept one reused would fail on a restart, and _failed says so then)
                self.unflushed.suspect = True
            return held.cursor

    def _failed(
        self, cur: Any, exc: Exception, action: str, rollback: bool, committing: bool = False
    ) -> StoreError | InvalidInputError:
        """Clean up after a driver error and return the StoreError to raise (transient ones
        as :class:`TransientStoreError`; a lost connection during ``COMMIT`` as one whose
        outcome is unknown; a NUL in a text parameter: the caller's error)."""
        if rollback:
            self._rollback(cur)
        if isinstance(exc, self._broken):
            self._conns.discard()
            self.unflushed.suspect = True  # PostgreSQL may have lost unflushed commits
        refused = nul_refused(exc, action)
        if refused is not None:
            return refused
        message = f"{action} failed on {self.url}: {exc}"
        if is_transient(exc, self._dbapi):
            unknown = committing and not getattr(exc, "sqlstate", None)
            return TransientStoreError(message, outcome_unknown=unknown)
        return StoreError(message)

    def _rollback(self, cur: Any) -> None:
        try:
            cur.execute("ROLLBACK")
        except self._error:  # the connection is gone; the server rolled back already
            self._conns.discard()

    def _counted(self, _exc: TransientStoreError) -> None:
        self.retries += 1

    def _read(self, sql: str, params: dict[str, Any], action: str) -> list[Any]:
        try:
            return self._read_once(sql, params, action)
        except TransientStoreError as exc:
            got = self.retry.run(
                action, exc, lambda: self._read_once(sql, params, action), on_retry=self._counted
            )
            assert got is not None  # reads have no unknown outcome
            return got

    def _read_once(self, sql: str, params: dict[str, Any], action: str) -> list[Any]:
        cur = self._cursor()
        try:
            cur.execute(sql, params)
            return list(cur.fetchall())
        except self._error as exc:
            raise self._failed(cur, exc, action, rollback=False) from exc

    def _transaction(
        self,
        action: str,
        body: Callable[[Any], _T],
        *,
        idempotent: bool = False,
        begin: str | None = None,
        settle: bool = False,
    ) -> _T:
        """Run ``body`` in one write transaction, retrying transient failures.

        ``idempotent``: running ``body`` twice leaves the same state as once, so a commit
        whose outcome is unknown is simply run again. ``begin``: the statement that begins
        it (default ``BEGIN``; ``""``: none, ``body`` is one
        statement run in autocommit, its own transaction in one round trip instead of three:
        ``_one_statement``). ``settle``: first write again what PostgreSQL may have lost of
        the lazy batches (see ``_unflushed``).
        """
        first = self._s.begin_write if begin is None else begin
        try:
            return self._transaction_once(action, body, first, settle)
        except TransientStoreError as exc:
            got: list[_T] = []

            def again() -> bool:
                got.append(self._transaction_once(action, body, first, settle))
                return True

            self.retry.run(
                action,
                exc,
                again,
                resolve=(lambda _exc: False) if idempotent else None,
                on_retry=self._counted,
            )
            return got[-1]

    def _transaction_once(
        self, action: str, body: Callable[[Any], _T], begin: str, settle: bool = False
    ) -> _T:
        cur = self._cursor()
        if settle:
            self._settle()
        if not begin:  # one statement, autocommit: nothing to roll back after a failure
            try:
                return body(cur)
            except self._error as exc:
                raise self._failed(cur, exc, action, False, committing=True) from exc
        try:
            cur.execute(begin)
            result = body(cur)
        except self._error as exc:
            raise self._failed(cur, exc, action, rollback=True) from exc
        except BaseException:
            self._rollback(cur)
            raise
        try:
            cur.execute("COMMIT")
        except self._error as exc:
            raise self._failed(cur, exc, action, rollback=True, committing=True) from exc
        return result

    # --- writes -------------------------------------------------------------------------

    def write(self, batch: StoreBatch) -> None:
        s = self._s
        if batch.lease is not None and s.has_fenced and batch:
            fenced = fenced_params(batch, self.records.spec_stored)
            if fenced is not None:  # PostgreSQL: the whole batch in one statement
                sql = s.fenced(batch.execution is not None, fenced.pop("kinds"))
                # Lazily, unless it ends its execution, has no event to look it up by, or is
                # its lease's first: that one waits, and flushes the lease's lazy take with
                # it (a take lost with its batches would fence their rewrite out).
                lazy = self._lazy and bool(batch.events) and not _ends(batch)
                fenced["lazy"] = lazy = lazy and batch.lease in self._leases_on_disk
                done: list[bool] = []
                self._write(batch, lambda: done.append(self._write_fenced_once(sql, fenced, batch)))
                if lazy and not done:  # found committed after its connection broke
                    self.unflushed.join(batch)
                elif not lazy:
                    self._leases_on_disk.flushed(batch.lease)
                return
        work: list[tuple[str, Sequence[Any]]] = []
        ex = batch.execution
        new_spec = ex is not None and not self.records.spec_stored(ex)
        if ex is not None:
            work.append((s.upsert_execution, [execution_row(ex)]))
            if new_spec:  # its launch, mostly: once an execution (0021)
                work.append((s.upsert_spec, [spec_row(ex)]))
        if s.positional is not None:  # SQLite: rows as tuples
            rows = positional_rows(batch)
            work += [(sql, r) for sql, r in zip(s.positional, rows, strict=True) if r]
        else:
            work += self._general_rows(batch)
        if batch.cache_puts:
            work.append((s.upsert_cache, [cache_row(c) for c in batch.cache_puts]))
        if not work:
            return
        self._write(batch, lambda: self._write_once(work, batch))
        if new_spec:
            assert ex is not None
            self.records.stored(ex)

    def _general_rows(self, batch: StoreBatch) -> list[tuple[str, Sequence[Any]]]:
        """PostgreSQL's general path: a batch's node, attempt and event writes (several
        rows of a kind in one statement of arrays), bound by name."""
        s = self._s
        work: list[tuple[str, Sequence[Any]]] = []
        if len(batch.nodes) > 1 and s.upsert_nodes_arrays is not None:
            work.append((s.upsert_nodes_arrays, [node_arrays(batch.nodes)]))
        elif batch.nodes:
            work.append((s.upsert_node, [node_row(n) for n in batch.nodes]))
        if len(batch.attempts) > 1 and s.upsert_attempts_arrays is not None:
            work.append((s.upsert_attempts_arrays, [attempt_arrays(batch.attempts)]))
        elif batch.attempts:
            work.append((s.upsert_attempt, [attempt_row(a) for a in batch.attempts]))
        if batch.events:
            if s.insert_events_arrays is not None:
                work.append((s.insert_events_arrays, [event_arrays(batch.events)]))
            else:
                work.append((s.insert_event, [event_row(e) for e in batch.events]))
        return work

    def _write(self, batch: StoreBatch, once: Callable[[], None]) -> None:
        """Run ``once`` (one attempt at writing ``batch``), retrying transient failures; a
        write whose outcome is unknown is looked up before it is written again."""
        try:
            once()
        except TransientStoreError as exc:
            first = batch.events[0] if batch.events else None

            def stored(_exc: TransientStoreError) -> bool:
                """Whether the batch committed before its connection broke: its first event
                is there (a batch's events are written in its transaction or not at all)."""
                if first is None:
                    raise _exc  # nothing to look for: say so rather than write twice
                found = self.get_events(first.execution_id, after_seq=first.seq - 1)
                return bool(found) and found[0].seq == first.seq

            def again() -> bool:
                once()
                return True

            self.retry.run("writing a batch", exc, again, resolve=stored, on_retry=self._counted)

    def _write_fenced_once(
        self, sql: str, params: dict[str, Any], batch: StoreBatch, settling: bool = False
    ) -> bool:
        """The batch as one statement: in autocommit, its own transaction (nothing to roll
        back after a failure: the statement wrote nothing). ``settling``: a lost lazy batch
        written again (no bookkeeping: ``UnflushedBatches.settle`` keeps it)."""
        cur = self._cursor()
        lazy = params["lazy"]
        if not settling:
            self._settle()
            mark = self.unflushed.mark()
        if lazy:
            self.unflushed.begin()
        committed = None
        try:
            cur.execute(sql, params)
            held, inserted, flushed = cur.fetchone()[:3]
            committed = batch if held == 1 else None
        except self._integrity_error as exc:
            raise self._integrity(exc, batch) from exc
        except self._error as exc:
            # A connection lost during the statement leaves its commit's outcome unknown.
            raise self._failed(cur, exc, "writing a batch", False, committing=True) from exc
        finally:
            if lazy:
                self.unflushed.end(committed)
        if held != 1:
            assert batch.lease is not None
            self._leases_on_disk.forget(batch.lease)
            raise lease_lost(batch.lease[0])  # the statement wrote nothing
        if not settling:
            self.unflushed.seen(mark, inserted, flushed, synchronous=not lazy)
        return True

    def _settle(self) -> None:
        """If PostgreSQL may have lost lazy batches, write the lost ones again first."""
        if self.unflushed.suspect:
            self.unflushed.settle(self._stored_firsts, self._rewrite)

    def _stored_firsts(self, batches: list[StoreBatch]) -> set[tuple[str, int]]:
        firsts = [b.events[0] for b in batches]
        params = {"eids": [e.execution_id for e in firsts], "seqs": [e.seq for e in firsts]}
        rows = self._read_once(_STORED_FIRSTS, params, "looking up lazy batches")
        return {(str(r[0]), int(r[1])) for r in rows}

    def _rewrite(self, batch: StoreBatch) -> None:
        params = fenced_params(batch, lambda _ex: True)  # its spec: stored before it was
        assert params is not None  # it was written this way before
        sql = self._s.fenced(batch.execution is not None, params.pop("kinds"))
        params["lazy"] = False
        self._write_fenced_once(sql, params, batch, settling=True)

    def _write_once(self, work: list[tuple[str, Sequence[Any]]], batch: StoreBatch) -> None:
        cur = self._cursor()
        if batch.lease is not None:
            self._settle()
        try:
            cur.execute(self._s.begin_write)
            if batch.lease is not None:
                eid, owner = batch.lease
                cur.execute(self._s.check_lease, {"id": eid, "owner": owner})
                if cur.fetchone() is None:
                    raise lease_lost(eid)  # rolled back below
            if self._s.lock_executions is not None:
                self._check_executions(cur, batch)
            for sql, rows in work:
                if len(rows) == 1:
                    cur.execute(sql, rows[0])
                else:
                    cur.executemany(sql, rows)
        except self._integrity_error as exc:
            self._rollback(cur)
            raise self._integrity(exc, batch) from exc
        except self._error as exc:
            raise self._failed(cur, exc, "writing a batch", rollback=True) from exc
        except BaseException:
            self._rollback(cur)
            raise
        try:
            cur.execute("COMMIT")
        except self._integrity_error as exc:  # deferred constraints
            self._rollback(cur)
            raise self._integrity(exc, batch) from exc
        except self._error as exc:
            raise self._failed(cur, exc, "writing a batch", rollback=True, committing=True) from exc

    def _check_executions(self, cur: Any, batch: StoreBatch) -> None:
        """PostgreSQL: the executions the batch's nodes, attempts and events name exist, and
        stay until the commit (locked ``FOR KEY SHARE``, as a foreign key's check would:
        revision 0018 dropped those keys, which the fenced statement never needs).

        Raises:
            NotFoundError: one does not exist (the transaction is rolled back).
        """
        named = {n.execution_id for n in batch.nodes}
        named.update(a.execution_id for a in batch.attempts)
        named.update(e.execution_id for e in batch.events)
        if batch.execution is not None:
            named.discard(batch.execution.id)  # written first, in this transaction
        if not named:
            return
        assert self._s.lock_executions is not None
        cur.execute(self._s.lock_executions, {"ids": sorted(named)})
        missing = named - {row[0] for row in cur.fetchall()}
        if missing:
            raise missing_execution(min(missing))  # rolled back by the caller

    def _integrity(self, exc: Exception, batch: StoreBatch) -> Exception:
        def exists(eid: str) -> bool:
            return bool(self._read(self._s.execution_exists, {"id": eid}, "checking executions"))

        return batch_refused(exc, batch, exists, self.url)

    # --- executions ---------------------------------------------------------------------

    def get_execution(self, execution_id: str) -> ExecutionRecord:
        rows = self._read(self._s.get_execution, {"id": execution_id}, "reading an execution")
        if not rows:
            raise NotFoundError(f"execution {execution_id!r} does not exist")
        record, spec = rows[0]
        return decode_one("execution", record, lambda r: self.records.decode(r, spec))

    def find_executions(self, project: str, ref: str) -> list[tuple[str, str, str]]:
        params = {"project": project, "ref": ref, "project2": project, "ref2": ref}
        rows = self._read(self._s.find_executions, params, "finding an execution")
        return list(dict.fromkeys((r[0], r[1], r[2]) for r in rows))  # once each

    def execution_projects(self) -> list[str]:
        rows = self._read(self._s.execution_projects, {}, "listing projects")
        return sorted(r[0] for r in rows)  # by code point, as the memory store (not collation)

    def get_execution_head(self, execution_id: str) -> ExecutionHead:
        sql = self._s.get_execution_head
        rows = self._read(sql, {"id": execution_id}, "reading an execution")
        if not rows:
            raise NotFoundError(f"execution {execution_id!r} does not exist")
        return decode_one("execution", rows[0][0], _HEAD.decode)

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
        params = _filters(project=project, domain=domain, workflow=workflow, phase=phase)
        sql = self._s.list_executions(tuple(params))
        params.update(limit=limit, offset=offset)
        rows = self._read(sql, params, "listing executions")
        return [
            ex
            for r in rows  # with its spec row's JSON (0021)
            for ex in decode_each(
                "execution", [r[0]], partial(self.records.decode, spec=r[1]), on_unreadable
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
        params = _filters(project=project, domain=domain, workflow=workflow, phase=phase)
        sql = self._s.list_execution_heads(tuple(params))
        params.update(limit=limit, offset=offset)
        rows = self._read(sql, params, "listing executions")
        return decode_each("execution", (r[0] for r in rows), _HEAD.decode, on_unreadable)

    def page_execution_heads(
        self,
        *,
        project: str | None = None,
        domain: str | None = None,
        workflow: str | None = None,
        phase: str | None = None,
        limit: int = 50,
        offset: int = 0,
        on_unreadable: OnUnreadable | None = None,
    ) -> tuple[list[ExecutionHead], int]:
        """The page statement (it carries the rows' leases too: left out here)."""
        items, total, _ = self.page_execution_heads_leased(
            project=project, domain=domain, workflow=workflow, phase=phase, limit=limit,
            offset=offset, on_unreadable=on_unreadable,
        )  # fmt: skip
        return items, total

    def page_execution_heads_leased(
        self,
        *,
        project: str | None = None,
        domain: str | None = None,
        workflow: str | None = None,
        phase: str | None = None,
        limit: int = 50,
        offset: int = 0,
        on_unreadable: OnUnreadable | None = None,
    ) -> tuple[list[ExecutionHead], int, dict[str, tuple[str, float]]]:
        """One statement: each row of the page carries its lease (``_views``)."""
        from airfoil.store.sql._views import page_execution_heads_leased

        check_page(limit, offset)
        params = _filters(project=project, domain=domain, workflow=workflow, phase=phase)
        return page_execution_heads_leased(self, params, limit, offset, on_unreadable)

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
        params = _filters(project=project, domain=domain, workflow=workflow, phase=phase)
        sql = self._s.list_executions(tuple(params))
        params.update(limit=limit, offset=offset)
        rows = self._read(sql, params, "listing executions")
        return decode_each("execution", (r[0] for r in rows), _RUN_HEAD.decode)

    def count_executions(
        self,
        *,
        project: str | None = None,
        domain: str | None = None,
        workflow: str | None = None,
        phase: str | None = None,
    ) -> int:
        params = _filters(project=project, domain=domain, workflow=workflow, phase=phase)
        rows = self._read(self._s.count_executions(tuple(params)), params, "counting executions")
        return int(rows[0][0])

    # --- nodes, attempts, events --------------------------------------------------------

    def get_nodes(
        self, execution_id: str, *, on_unreadable: OnUnreadable | None = None
    ) -> list[NodeRecord]:
        rows = self._read(self._s.get_nodes, {"eid": execution_id}, "reading nodes")
        return decode_parts("node", (r[0] for r in rows), _NODE.decode, on_unreadable)

    def get_node(self, execution_id: str, node_id: str) -> NodeRecord:
        params = {"eid": execution_id, "nid": node_id}
        rows = self._read(self._s.get_node, params, "reading a node")
        if not rows:
            raise NotFoundError(f"node {node_id!r} of execution {execution_id!r} does not exist")
        return decode_one("node", rows[0][0], _NODE.decode)

    def get_attempts(
        self, execution_id: str, node_id: str | None = None, *, on_unreadable: _Report = None
    ) -> list[AttemptRecord]:
        if node_id is None:
            rows = self._read(self._s.get_attempts, {"eid": execution_id}, "reading attempts")
        else:
            params = {"eid": execution_id, "nid": node_id}
            rows = self._read(self._s.get_node_attempts, params, "reading attempts")
        return decode_parts("attempt", (r[0] for r in rows), _ATTEMPT.decode, on_unreadable)

    def get_events(
        self,
        execution_id: str,
        after_seq: int = 0,
        *,
        limit: int | None = None,
        on_unreadable: OnUnreadable | None = None,
    ) -> list[EventRecord]:
        sql = self._s.get_events if limit is None else self._s.get_events_page
        rows = self._read(sql, events_params(execution_id, after_seq, limit), "reading events")
        return decode_parts("event", (r[0] for r in rows), _EVENT.decode, on_unreadable)

    def view_execution(
        self,
        execution_id: str,
        *,
        after_seq: int = -1,
        full: bool = True,
        on_unreadable: _Report = None,
    ) -> ExecutionView:
        """One statement, one snapshot (``_views``)."""
        from airfoil.store.sql._views import view_execution

        return view_execution(self, execution_id, after_seq, full, on_unreadable)

    # --- execution leases ---------------------------------------------------------------

    def acquire_lease(self, execution_id: str, owner: str, now: float, ttl_s: float) -> bool:
        params = {"id": execution_id, "owner": owner, "now": now, "expires": now + ttl_s}

        def acquire(cur: Any) -> bool | None:
            cur.execute(self._s.acquire_lease, params)
            if cur.rowcount == 1:
                return True
            cur.execute(self._s.execution_exists, {"id": execution_id})
            return False if cur.fetchone() is not None else None

        if self.dialect == "postgresql":  # one statement, one round trip (``_pg_leases``)
            got = take_lease(self, params)
        else:
            got = self._transaction("acquiring a lease", acquire, idempotent=True)
        self._leases_on_disk.acquired((execution_id, owner), bool(got), now, now + ttl_s)
        if got is None:
            raise NotFoundError(f"execution {execution_id!r} does not exist")
        return got

    def release_lease(self, execution_id: str, owner: str) -> None:
        """Synchronous, after writing again what PostgreSQL lost of the lazy batches: the
        lease's batches are on disk (one ordered WAL) before another driver may take it."""
        params = {"id": execution_id, "owner": owner}
        self._leases_on_disk.forget((execution_id, owner))
        mark = self.unflushed.mark()

        def release(cur: Any) -> int:
            cur.execute(self._s.release_lease, params)
            return int(cur.rowcount)

        one = self._one_statement
        if self._transaction("releasing a lease", release, idempotent=True, settle=True, begin=one):
            self.unflushed.flushed(mark)  # it wrote, so its commit waited for the flush

    def get_lease(self, execution_id: str) -> tuple[str, float] | None:
        rows = self._read(self._s.get_lease, {"id": execution_id}, "reading a lease")
        if not rows or rows[0][0] is None or rows[0][1] is None:
            return None
        return str(rows[0][0]), float(rows[0][1])

    def get_leases(self, execution_ids: Collection[str]) -> dict[str, tuple[str, float]]:
        sql = self._s.get_leases
        if sql is None or not execution_ids:  # SQLite: a local read per row is cheap
            return super().get_leases(execution_ids)
        params = {"ids": list(execution_ids)}
        rows = self._read(sql, params, "reading leases")
        return {str(r[0]): (str(r[1]), float(r[2])) for r in rows if r[2] is not None}

    def claim_execution(
        self,
        owner: str,
        now: float,
        ttl_s: float,
        *,
        code_root_prefix: str = "",
        exclude: Collection[str] = (),
    ) -> str | None:
        """One statement (see ``_server_queries``): ``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
        the write lock on SQLite."""
        from airfoil.store.sql._server_queries import claim_execution

        return claim_execution(self, owner, now, ttl_s, code_root_prefix, exclude=exclude)

    def close(self) -> None:
        """Close every connection of this store; later calls raise StoreError."""
        self._conns.close()


def _ends(batch: StoreBatch) -> bool:
    """Whether ``batch`` ends its execution (its record in a terminal phase)."""
    return batch.execution is not None and ExecutionPhase(batch.execution.phase).terminal


def _filters(**given: str | None) -> dict[str, Any]:
    """The given filters, in :data:`EXECUTION_FILTERS` order (which keys a SQL variant)."""
    return {f: given[f] for f in EXECUTION_FILTERS if given[f] is not None}
