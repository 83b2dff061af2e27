"""The SQL the store runs, built with SQLAlchemy Core and compiled to driver strings.

Statements are compiled to driver SQL strings and run straight on the DBAPI cursor, which
keeps a call down to the driver's own cost. Parameters are always passed by name (SQLite
``:name``, psycopg ``%(name)s``; the arrays of ``write_fenced`` as ``%(name)b``, binary), as
dicts. :func:`compile_all` compiles every statement
(every filter variant included) for a dialect, as a ``{name: sql}`` dict that
:class:`~airfoil.store.sql._sql_text.SqlText` serves to the store. For SQLite the dict is
generated ahead of time into ``_sqlite_sql.py`` (``python -m airfoil.store.sql._statements``
rewrites it; a test checks it is current), so opening the embedded store never imports
SQLAlchemy; PostgreSQL stores compile theirs when they open.

Invariants:

- Every bind parameter is an explicit, named :func:`sqlalchemy.bindparam`; no statement
  carries a literal value, so the compiled string is the whole statement.
- Upserts never touch an execution's lease columns: writing a record keeps its lease.
- The event insert is a plain ``INSERT`` (no upsert): a duplicate ``(execution_id, seq)`` is
  a unique violation the store turns into :class:`~airfoil.core.errors.ConflictError`.
- PostgreSQL's ``write_fenced`` statements write a whole driver batch in one statement
  (one round trip, its own transaction): every write is a data-modifying CTE that writes only
  if the fence CTE (the lease check, which also locks the execution's row) matched, so a
  driver that lost its lease writes nothing, exactly as the check-then-write transaction.
  The fence writes the execution's row only when the batch carries its record: otherwise it
  is a ``SELECT ... FOR NO KEY UPDATE``, a lock without a new row version.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import sys
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from airfoil.store.sql import _schema as s
from airfoil.store.sql._sql_text import (
    EXECUTION_FILTERS,
    FENCED_KINDS,
    SCHEDULE_COLUMNS,
    fenced_name,
    variant_name,
)

__all__ = ["compile_all", "render_sqlite_module"]

_bp = sa.bindparam


def compile_all(dialect: sa.Dialect) -> dict[str, str]:
    """Every statement of the store, compiled for ``dialect``, by name."""
    return _Builder(dialect).sql


def render_sqlite_module() -> str:
    """The source of ``_sqlite_sql.py``: the SQLite statements as a dict literal."""
    from sqlalchemy.dialects import sqlite

    sql = compile_all(sqlite.dialect(paramstyle="named"))
    lines = [
        '"""The store\'s SQL for SQLite, compiled ahead of time (generated: do not edit).',
        "",
        "Regenerate with ``python -m airfoil.store.sql._statements`` after changing the",
        "schema or a statement; a unit test fails while this file is stale.",
        '"""',
        "",
        "SQL: dict[str, str] = {",
    ]
    lines += [f"    {_literal(name)}: {_literal(text)}," for name, text in sorted(sql.items())]
    lines.append("}")
    return "\n".join(lines) + "\n"


def spec_of(ex: sa.Table) -> Any:
    """The spec of an ``executions`` row (its ``execution_specs`` row's; NULL where it has
    none: a record written before revision 0021 carries its own)."""
    sp = s.execution_specs
    return sa.select(sp.c.spec).where(sp.c.execution_id == ex.c.id).scalar_subquery()


class _Builder:
    """Builds and compiles the statements of one dialect into :attr:`sql`."""

    def __init__(self, dialect: sa.Dialect) -> None:
        self._dialect = dialect
        sql: dict[str, str] = {}
        self.sql = sql
        # Imported here so a SQLite user never loads the PostgreSQL dialect, and vice versa.
        self._insert: Any
        if dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            self._insert = sqlite_insert
        else:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            self._insert = pg_insert
        ex, ce, cr = s.executions, s.cache_entries, s.cache_reservations

        # ``name`` is written by the insert only: it never changes (revision 0019); so is
        # ``idempotency_key`` (0022), which only its release clears.
        sql["upsert_execution"] = self._upsert(
            ex,
            ("id", "project", "domain", "workflow", "phase", "created_at", "record", "head"),
            ("id",),
            insert_only=("name", "idempotency_key"),
        )
        # An execution's spec (revision 0021): written where the store has not written or
        # read that spec of it (``SqlMetaStore._spec_rows``); a rewrite only if it changed.
        sp = s.execution_specs
        put_spec = self._insert(sp).values(execution_id=_bp("execution_id"), spec=_bp("spec"))
        sql["upsert_spec"] = self._compile(
            put_spec.on_conflict_do_update(
                index_elements=[sp.c.execution_id],
                set_={"spec": put_spec.excluded.spec},
                where=sp.c.spec != put_spec.excluded.spec,
            )
        )
        sql["upsert_node"] = self._upsert(s.nodes, ("execution_id", "node_id", "record"), 2)
        sql["upsert_attempt"] = self._upsert(
            s.attempts, ("execution_id", "node_id", "attempt", "record"), 3
        )
        event_columns = ("execution_id", "seq", "cause_id", "record")
        sql["insert_event"] = self._compile(
            sa.insert(s.events).values({c: _bp(c) for c in event_columns})
        )
        # PostgreSQL: all events of a batch in one statement, from parallel arrays (one
        # round trip, and a duplicate fails the statement, not a half-run pipeline).
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import ARRAY

            arrays = [
                sa.func.unnest(_bp("execution_id", type_=ARRAY(sa.String()))),
                sa.func.unnest(_bp("seq", type_=ARRAY(sa.BigInteger()))),
                sa.func.unnest(_bp("cause_id", type_=ARRAY(sa.BigInteger()))),
                sa.func.unnest(_bp("record", type_=ARRAY(sa.Text()))),
            ]
            sql["insert_events_arrays"] = self._compile(
                sa.insert(s.events).from_select(list(event_columns), sa.select(*arrays))
            )
            # Several nodes or attempts of the general write path (a launch's nodes) in one
            # statement from binary arrays, not one execution per row (``executemany``).
            sql["upsert_nodes_arrays"] = self._upsert_arrays(
                s.nodes, ("execution_id", "node_id", "record"), 2
            )
            sql["upsert_attempts_arrays"] = self._upsert_arrays(
                s.attempts, ("execution_id", "node_id", "attempt", "record"), 3
            )
            # The executions a batch's rows name, locked against deletion until the commit
            # (what a foreign key's check takes; revision 0018 dropped those of the tables
            # the fenced batch writes on PostgreSQL): the general write path checks them.
            sql["lock_executions"] = self._compile(
                sa.select(ex.c.id)
                .where(ex.c.id == sa.func.any(_bp("ids", type_=ARRAY(ex.c.id.type))))
                .with_for_update(key_share=True, read=True)
            )
            sql["get_leases"] = self._compile(
                sa.select(ex.c.id, ex.c.lease_owner, ex.c.lease_expires_at).where(
                    ex.c.id == sa.func.any(_bp("ids", type_=ARRAY(ex.c.id.type))),
                    ex.c.lease_owner.is_not(None),
                )
            )
            for size in range(len(FENCED_KINDS) + 1):
                for kinds in itertools.combinations(FENCED_KINDS, size):
                    for with_execution in (False, True):
                        name = fenced_name(with_execution, "".join(kinds))
                        sql[name] = self._fenced(with_execution, "".join(kinds))
        sql["upsert_cache"] = self._upsert(ce, ("key", "task", "created_at", "record"), ("key",))

        sql["get_execution"] = self._compile(
            sa.select(ex.c.record, spec_of(ex)).where(ex.c.id == _bp("id"))
        )
        # The head where the row has one (revision 0014), else the record (decodes as one).
        head = sa.func.coalesce(ex.c.head, ex.c.record)
        sql["get_execution_head"] = self._compile(sa.select(head).where(ex.c.id == _bp("id")))
        sql["execution_exists"] = self._compile(sa.select(ex.c.id).where(ex.c.id == _bp("id")))
        # The executions of a project a reference names: by name (in any domain), or by id.
        # Two index lookups (a UNION ALL: an OR is planned as a scan of the project's range
        # of the name index on both backends); a row found twice is harmless.
        found = sa.select(ex.c.id, ex.c.domain, ex.c.name)
        sql["find_executions"] = self._compile(
            sa.union_all(
                found.where(ex.c.project == _bp("project"), ex.c.name == _bp("ref")),
                found.where(ex.c.id == _bp("ref2"), ex.c.project == _bp("project2")),
            )
        )
        # Idempotent launches (revision 0022): the holder of a project's key, its release.
        key_of = (ex.c.project == _bp("project"), ex.c.idempotency_key == _bp("key"))
        sql["idempotent_launch"] = self._compile(sa.select(ex.c.id).where(*key_of))
        sql["release_idempotency_key"] = self._compile(
            sa.update(ex)
            .where(ex.c.id == _bp("id"), ex.c.idempotency_key == _bp("key"))
            .values(idempotency_key=sa.null())
        )
        # The projects that have executions, by a skip scan of the name index (one index
        # seek a project, not a read of every execution: neither backend skips by itself).
        first = sa.select(sa.func.min(ex.c.project).label("name")).cte("p", recursive=True)
        after = sa.select(sa.func.min(ex.c.project)).where(ex.c.project > first.c.name)
        walk = first.union_all(sa.select(after.scalar_subquery()).where(first.c.name.is_not(None)))
        sql["execution_projects"] = self._compile(
            sa.select(walk.c.name).where(walk.c.name.is_not(None))
        )
        n, a, e = s.nodes, s.attempts, s.events
        sql["get_nodes"] = self._compile(
            sa.select(n.c.record).where(n.c.execution_id == _bp("eid")).order_by(n.c.node_id)
        )
        sql["get_node"] = self._compile(
            sa.select(n.c.record).where(n.c.execution_id == _bp("eid"), n.c.node_id == _bp("nid"))
        )
        attempts = sa.select(a.c.record).where(a.c.execution_id == _bp("eid"))
        sql["get_attempts"] = self._compile(attempts.order_by(a.c.node_id, a.c.attempt))
        sql["get_node_attempts"] = self._compile(
            attempts.where(a.c.node_id == _bp("nid")).order_by(a.c.attempt)
        )
        events = (
            sa.select(e.c.record)
            .where(e.c.execution_id == _bp("eid"), e.c.seq > _bp("after", type_=sa.BigInteger))
            .order_by(e.c.seq)
        )
        sql["get_events"] = self._compile(events)
        # a page of them (SQLite renders LIMIT with an OFFSET: an explicit one, always 0)
        page = events.limit(_bp("limit", type_=sa.Integer)).offset(_bp("offset", type_=sa.Integer))
        sql["get_events_page"] = self._compile(page)
        self._views(head)

        sql["get_cache"] = self._compile(sa.select(ce.c.record).where(ce.c.key == _bp("key")))
        newest = (ce.c.created_at.desc(), ce.c.key.desc())
        # SQLite renders LIMIT with an OFFSET: give it an explicit one (always 0).
        limit, offset = _bp("limit", type_=sa.Integer), _bp("offset", type_=sa.Integer)
        entries = sa.select(ce.c.record).order_by(*newest).limit(limit).offset(offset)
        sql["list_cache"] = self._compile(entries)
        sql["list_cache_task"] = self._compile(entries.where(ce.c.task == _bp("task")))

        holds = ex.c.lease_owner.is_(None) | (ex.c.lease_owner == _bp("owner"))
        sql["acquire_lease"] = self._compile(
            sa.update(ex)
            .where(ex.c.id == _bp("id"), holds | (ex.c.lease_expires_at <= _bp("now")))
            .values(lease_owner=_bp("owner"), lease_expires_at=_bp("expires"))
        )
        sql["release_lease"] = self._compile(
            sa.update(ex)
            .where(ex.c.id == _bp("id"), ex.c.lease_owner == _bp("owner"))
            .values(lease_owner=sa.null(), lease_expires_at=sa.null())
        )

        # The fence of a driver's batch, inside its transaction: one row while ``owner``
        # holds the lease. A read, never a write of the row (an update, even a no-op one,
        # leaves a new row version and a dead one per batch: WAL, pruning, vacuum).
        # PostgreSQL: the read locks the row ``FOR NO KEY UPDATE`` until the commit, the
        # lock a lease's take or renewal (an ``UPDATE``) waits for, so no lease can change
        # before the batch commits. SQLite: the transaction began with BEGIN IMMEDIATE,
        # which holds the database's write lock.
        sql["check_lease"] = self._compile(self._lease_held())
        sql["get_lease"] = self._compile(
            sa.select(ex.c.lease_owner, ex.c.lease_expires_at).where(ex.c.id == _bp("id"))
        )

        reserve = self._insert(cr).values(
            key=_bp("key"), owner=_bp("owner"), expires_at=_bp("expires")
        )
        sql["reserve_cache"] = self._compile(
            reserve.on_conflict_do_update(
                index_elements=[cr.c.key],
                set_={"owner": reserve.excluded.owner, "expires_at": reserve.excluded.expires_at},
                where=(cr.c.owner == reserve.excluded.owner) | (cr.c.expires_at <= _bp("now")),
            )
        )
        sql["cache_holder"] = self._compile(sa.select(cr.c.owner).where(cr.c.key == _bp("key")))
        sql["release_cache"] = self._compile(
            sa.delete(cr).where(cr.c.key == _bp("key"), cr.c.owner == _bp("owner"))
        )
        self._variants()
        self._schedules()
        self._scheduling()
        self._cache_scopes()

    def _views(self, head: Any) -> None:
        """``view_execution`` (the record) and ``view_execution_head`` (its head, or its record
        if it ended since ``after``): what an execution's detail reads, as one statement (one
        snapshot, one round trip). Rows: ``(kind, node_id, attempt, record, lease_owner,
        lease_expires_at, last_seq)``; kind 0 the execution's (``attempt`` 1 where ``record``
        is the whole record; its lease and its newest event's seq), then kind 1 its nodes and
        kind 2 its attempts, only if its newest event's seq is past ``after`` (an uncorrelated
        subquery: run once)."""
        ex, n, a, e = s.executions, s.nodes, s.attempts, s.events
        eid: Any = _bp("eid")
        last = sa.select(sa.func.max(e.c.seq)).where(e.c.execution_id == eid).scalar_subquery()
        zero = sa.literal_column("0", sa.BigInteger)
        changed = sa.func.coalesce(last, zero) > _bp("after", type_=sa.BigInteger)
        nulls = (
            sa.cast(sa.null(), s.execution_specs.c.spec.type).label("spec"),
            sa.cast(sa.null(), ex.c.lease_owner.type).label("lease_owner"),
            sa.cast(sa.null(), ex.c.lease_expires_at.type).label("lease_expires_at"),
            sa.cast(sa.null(), sa.BigInteger).label("last_seq"),
        )

        def kind(k: int) -> Any:
            return sa.literal_column(str(k), sa.Integer).label("kind")

        nodes = sa.select(
            kind(1), n.c.node_id, sa.literal_column("0", sa.Integer).label("attempt"), n.c.record
        ).add_columns(*nulls)
        attempts = sa.select(kind(2), a.c.node_id, a.c.attempt, a.c.record).add_columns(*nulls)
        # The head variant reads the whole record where the execution ended since ``after``
        # (its outputs come with its final phase): the row's ``attempt`` column says 1 then.
        ended = sa.and_(
            ex.c.phase != sa.literal_column("'queued'"),
            ex.c.phase != sa.literal_column("'running'"),
            changed,
        )
        whole: Any = sa.case((ended, ex.c.record), else_=head)
        one = sa.literal_column("1", sa.Integer)
        read_whole: Any = sa.case((ended, one), else_=sa.literal_column("0", sa.Integer))
        spec = spec_of(ex)
        variants = (
            ("view_execution", ex.c.record, one, spec),
            ("view_execution_head", whole, read_whole, sa.case((ended, spec), else_=sa.null())),
        )
        for name, record, is_whole, its_spec in variants:
            row = sa.select(
                kind(0),
                ex.c.id.label("node_id"),
                is_whole.label("attempt"),
                record.label("record"),
                its_spec.label("spec"),
                ex.c.lease_owner,
                ex.c.lease_expires_at,
                last.label("last_seq"),
            ).where(ex.c.id == eid)
            self.sql[name] = self._compile(
                sa.union_all(
                    row,
                    nodes.where(n.c.execution_id == eid, changed),
                    attempts.where(a.c.execution_id == eid, changed),
                ).order_by(
                    sa.literal_column("kind"),
                    sa.literal_column("node_id"),
                    sa.literal_column("attempt"),
                )
            )

    def _compile(self, stmt: sa.ClauseElement) -> str:
        compiled = stmt.compile(dialect=self._dialect)
        literal = {k: v for k, v in compiled.params.items() if v is not None}
        if literal:  # a value baked into the statement would be silently missing at run time
            raise AssertionError(f"statement has literal parameters {literal}: {compiled}")
        return str(compiled)

    def _upsert(
        self,
        table: sa.Table,
        columns: tuple[str, ...],
        key: tuple[str, ...] | int,
        insert_only: tuple[str, ...] = (),
    ) -> str:
        keys = columns[:key] if isinstance(key, int) else key
        stmt = self._insert(table).values({c: _bp(c) for c in columns + insert_only})
        return self._compile(
            stmt.on_conflict_do_update(
                index_elements=[table.c[k] for k in keys],
                set_={c: stmt.excluded[c] for c in columns if c not in keys},
            )
        )

    def _upsert_arrays(self, table: sa.Table, columns: tuple[str, ...], keys: int) -> str:
        """PostgreSQL: an upsert of the rows given as one binary array per column (named as
        the columns; ``_pg_arrays``); the rows' keys must be distinct."""
        from sqlalchemy.dialects.postgresql import ARRAY

        arrays = [sa.func.unnest(_bp(c, type_=ARRAY(table.c[c].type))) for c in columns]
        stmt = self._insert(table).from_select(list(columns), sa.select(*arrays))
        sql = self._compile(
            stmt.on_conflict_do_update(
                index_elements=[table.c[k] for k in columns[:keys]],
                set_={c: stmt.excluded[c] for c in columns[keys:]},
            )
        )
        return re.sub(r"%\((\w+)\)s", r"%(\1)b", sql)

    def _lease_held(self) -> sa.Select[Any]:
        """The execution ``id``'s row while ``owner`` holds its lease, none otherwise; on
        PostgreSQL locked ``FOR NO KEY UPDATE`` (SQLite has no row locks: its writes hold
        the database's write lock)."""
        ex = s.executions
        held = sa.select(ex.c.id).where(ex.c.id == _bp("id"), ex.c.lease_owner == _bp("owner"))
        return held if self._dialect.name == "sqlite" else held.with_for_update(key_share=True)

    def _fenced(self, with_execution: bool, kinds: str) -> str:
        """A driver's whole batch as one PostgreSQL statement (see the module's invariants).

        Parameters: ``id`` and ``owner`` (the lease; every record of the batch belongs to
        execution ``id``); with the execution, its columns as ``upsert_execution`` names
        them (the row exists: its lease is held); per record kind in ``kinds`` (``n``
        nodes, ``a`` attempts, ``e`` events, ``c`` cache entries) parallel arrays named
        ``<kind>_<column>``; a kind not in ``kinds`` has no statement at all (one variant
        per combination: no empty ``unnest`` planned and run for every batch); ``lazy``
        (a boolean): commit without waiting for the WAL's flush (``synchronous_commit``
        off for this statement's own transaction). The one row it returns counts the
        fence's matches (1 if the batch was written, 0 if the lease is not held), then the
        WAL's insert and flush positions as bytes (``pg_lsn - '0/0'``) when it ran: the
        store's bookkeeping of its unflushed batches (``_unflushed``).
        """
        from sqlalchemy.dialects.postgresql import ARRAY

        ex = s.executions
        values: dict[str, Any] = {
            c: _bp(c)
            for c in ("project", "domain", "workflow", "phase", "created_at", "record", "head")
        }
        if with_execution:  # the row is written anyway: its update is the fence
            fence = (
                sa.update(ex)
                .where(ex.c.id == _bp("id"), ex.c.lease_owner == _bp("owner"))
                .values(values)
                .returning(ex.c.id)
                .cte("fence")
            )
        else:  # a row lock, no row write (see ``check_lease``)
            fence = self._lease_held().cte("fence")
        held = sa.exists(sa.select(fence.c.id))

        def rows(prefix: str, table: sa.Table, columns: tuple[str, ...]) -> sa.Select[Any]:
            arrays: list[Any] = []
            for c in columns:
                if c == "execution_id":  # the lease's execution: sent once, not per record
                    arrays.append(sa.cast(_bp("id"), table.c[c].type).label(c))
                else:
                    arrays.append(
                        sa.func.unnest(_bp(f"{prefix}_{c}", type_=ARRAY(table.c[c].type)))
                    )
            return sa.select(*arrays).where(held)

        def upsert(prefix: str, table: sa.Table, columns: tuple[str, ...], keys: int) -> Any:
            stmt = self._insert(table).from_select(list(columns), rows(prefix, table, columns))
            return stmt.on_conflict_do_update(
                index_elements=[table.c[k] for k in columns[:keys]],
                set_={c: stmt.excluded[c] for c in columns[keys:]},
            ).cte(f"write_{prefix}")

        event_columns = ("execution_id", "seq", "cause_id", "record")
        writes: dict[str, Callable[[], Any]] = {
            "n": lambda: upsert("n", s.nodes, ("execution_id", "node_id", "record"), 2),
            "a": lambda: upsert(
                "a", s.attempts, ("execution_id", "node_id", "attempt", "record"), 3
            ),
            "e": lambda: (
                sa.insert(s.events)
                .from_select(list(event_columns), rows("e", s.events, event_columns))
                .cte("write_e")
            ),
            "c": lambda: upsert("c", s.cache_entries, ("key", "task", "created_at", "record"), 1),
        }
        lazy = sa.case(
            (
                _bp("lazy", type_=sa.Boolean()),
                sa.literal_column("set_config('synchronous_commit', 'off', true)"),
            )
        )
        stmt = sa.select(
            sa.func.count(),
            sa.literal_column("(pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::int8"),
            sa.literal_column("(pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::int8"),
            lazy,
        ).select_from(fence)
        if kinds:
            stmt = stmt.add_cte(*[writes[k]() for k in kinds])
        sql = self._compile(stmt)
        # The arrays go in binary (psycopg's ``%(name)b``, built by ``_pg_arrays``): their
        # JSON records need no array-literal quoting, and no per-element dumper lookups.
        return re.sub(r"%\(([naec]_\w+)\)s", r"%(\1)b", sql)

    def _variants(self) -> None:
        """The filter variants of listing, counting and deleting, one statement each."""
        ex, ce = s.executions, s.cache_entries
        for n in range(len(EXECUTION_FILTERS) + 1):
            for filters in itertools.combinations(EXECUTION_FILTERS, n):
                where = [ex.c[f] == _bp(f) for f in filters]
                self.sql[variant_name("list_executions", filters)] = self._compile(
                    sa.select(ex.c.record, spec_of(ex))
                    .where(*where)
                    .order_by(ex.c.created_at.desc(), ex.c.id.desc())
                    .limit(_bp("limit", type_=sa.Integer))
                    .offset(_bp("offset", type_=sa.Integer))
                )
                self.sql[variant_name("list_execution_heads", filters)] = self._compile(
                    sa.select(sa.func.coalesce(ex.c.head, ex.c.record))
                    .where(*where)
                    .order_by(ex.c.created_at.desc(), ex.c.id.desc())
                    .limit(_bp("limit", type_=sa.Integer))
                    .offset(_bp("offset", type_=sa.Integer))
                )
                # with each row's lease (a listing shows an unfinished execution no
                # process drives as interrupted): no second read for the page's leases
                self.sql[variant_name("page_execution_heads", filters)] = self._compile(
                    sa.select(
                        sa.func.coalesce(ex.c.head, ex.c.record),
                        sa.func.count().over(),
                        ex.c.lease_owner,
                        ex.c.lease_expires_at,
                    )
                    .where(*where)
                    .order_by(ex.c.created_at.desc(), ex.c.id.desc())
                    .limit(_bp("limit", type_=sa.Integer))
                    .offset(_bp("offset", type_=sa.Integer))
                )
                self.sql[variant_name("count_executions", filters)] = self._compile(
                    sa.select(sa.func.count()).select_from(ex).where(*where)
                )
        for filters in ((), ("key",), ("task",), ("key", "task")):
            self.sql[variant_name("delete_cache", filters)] = self._compile(
                sa.delete(ce).where(*[ce.c[f] == _bp(f) for f in filters])
            )

    def _scheduling(self) -> None:
        """Quotas, queue snapshots and task run times (revision 0003)."""
        q, qs, rt, sql = s.project_quotas, s.queue_snapshots, s.task_runtimes, self.sql
        sql["quota_put"] = self._upsert(q, ("project", "record"), 1)
        sql["quota_get"] = self._compile(sa.select(q.c.record).where(q.c.project == _bp("project")))
        sql["quota_list"] = self._compile(sa.select(q.c.record).order_by(q.c.project))
        sql["quota_delete"] = self._compile(sa.delete(q).where(q.c.project == _bp("project")))
        sql["snapshot_put"] = self._upsert(qs, ("owner", "updated_at", "record"), 1)
        sql["snapshot_list"] = self._compile(sa.select(qs.c.record).order_by(qs.c.owner))
        sql["snapshot_delete"] = self._compile(sa.delete(qs).where(qs.c.owner == _bp("owner")))
        sql["runtime_put"] = self._upsert(
            rt, ("execution_id", "node_id", "attempt", "task", "ended_at", "duration"), 3
        )
        sql["runtime_list"] = self._compile(
            sa.select(rt.c.duration)
            .where(rt.c.task == _bp("task"))
            .order_by(rt.c.ended_at.desc(), rt.c.execution_id.desc(), rt.c.node_id.desc())
            .limit(_bp("limit", type_=sa.Integer))
            .offset(_bp("offset", type_=sa.Integer))
        )

    def _cache_scopes(self) -> None:
        """Declared cache scopes and their members (revision 0020)."""
        cs, cm, sql = s.cache_scopes, s.cache_scope_members, self.sql
        sql["scope_create"] = self._compile(
            self._insert(cs)
            .values(name=_bp("name"), description=_bp("description"), created_at=_bp("now"))
            .on_conflict_do_nothing(index_elements=[cs.c.name])
        )
        sql["scope_delete"] = self._compile(sa.delete(cs).where(cs.c.name == _bp("name")))
        sql["scope_delete_members"] = self._compile(sa.delete(cm).where(cm.c.scope == _bp("name")))
        sql["scope_list"] = self._compile(
            sa.select(cs.c.name, cs.c.description, cs.c.created_at).order_by(cs.c.name)
        )
        sql["scope_members"] = self._compile(
            sa.select(cm.c.scope, cm.c.project, cm.c.access).order_by(cm.c.scope, cm.c.project)
        )
        # A member row only where the scope is declared (no row: the caller says not found).
        # PostgreSQL locks the scope's row (FOR KEY SHARE): a grant racing the scope's delete
        # waits for it and then finds no scope, so it never leaves a member behind that a
        # scope declared again under the name would inherit (SQLite's writers are serial).
        grant = self._insert(cm).from_select(
            ["scope", "project", "access", "granted_at"],
            sa.select(
                cs.c.name,
                _bp("project", type_=cm.c.project.type),
                _bp("access", type_=cm.c.access.type),
                _bp("now", type_=sa.Double),
            )
            .where(cs.c.name == _bp("name"))
            .with_for_update(read=True, key_share=True),
        )
        sql["scope_grant"] = self._compile(
            grant.on_conflict_do_update(
                index_elements=[cm.c.scope, cm.c.project],
                set_={"access": grant.excluded.access, "granted_at": grant.excluded.granted_at},
            )
        )
        sql["scope_revoke"] = self._compile(
            sa.delete(cm).where(cm.c.scope == _bp("name"), cm.c.project == _bp("project"))
        )
        # one row when the scope is declared: its own member row's and the '*' row's access
        own = cm.alias("own")
        every = cm.alias("every")
        sql["scope_access"] = self._compile(
            sa.select(cs.c.name, own.c.access, every.c.access)
            .select_from(
                cs.outerjoin(
                    own, sa.and_(own.c.scope == cs.c.name, own.c.project == _bp("project"))
                ).outerjoin(
                    every, sa.and_(every.c.scope == cs.c.name, every.c.project == _bp("star"))
                )
            )
            .where(cs.c.name == _bp("name"))
        )

    def _schedules(self) -> None:
        t, sql = s.schedules, self.sql
        cols = [t.c[c] for c in SCHEDULE_COLUMNS]
        key = (t.c.project == _bp("project"), t.c.domain == _bp("domain"), t.c.name == _bp("name"))
        sql["schedule_upsert"] = self._upsert(t, SCHEDULE_COLUMNS, 3)
        sql["schedule_get"] = self._compile(sa.select(*cols).where(*key))
        sql["schedule_list_all"] = self._compile(
            sa.select(*cols).order_by(t.c.project, t.c.domain, t.c.name)
        )
        sql["schedule_due"] = self._compile(
            sa.select(*cols)
            .where(t.c.active == sa.true(), t.c.next_fire_at <= _bp("now", type_=sa.Double))
            .order_by(t.c.next_fire_at, t.c.project, t.c.domain, t.c.name)
            .limit(_bp("limit", type_=sa.Integer))
            .offset(_bp("offset", type_=sa.Integer))
        )
        sql["schedule_set_active"] = self._compile(
            sa.update(t)
            .where(*key)
            .values(
                active=_bp("active", type_=sa.Boolean),
                next_fire_at=_bp("next", type_=sa.Double),
                updated_at=_bp("now", type_=sa.Double),
            )
        )
        sql["schedule_claim"] = self._compile(
            sa.update(t)
            .where(
                *key,
                t.c.active == sa.true(),
                t.c.next_fire_at == _bp("expected", type_=sa.Double),
            )
            .values(
                next_fire_at=_bp("next", type_=sa.Double),
                last_fired_at=_bp("expected_set", type_=sa.Double),
                last_execution_id=_bp("eid"),
                updated_at=_bp("now", type_=sa.Double),
            )
        )
        sql["schedule_record_fire"] = self._compile(
            sa.update(t)
            .where(
                *key,
                sa.or_(
                    t.c.last_fired_at.is_(None),
                    t.c.last_fired_at < _bp("fired", type_=sa.Double),
                ),
            )
            .values(
                last_fired_at=_bp("fired_set", type_=sa.Double),
                last_execution_id=_bp("eid"),
                updated_at=_bp("now", type_=sa.Double),
            )
        )
        sql["schedule_delete"] = self._compile(sa.delete(t).where(*key))


def _literal(text: str) -> str:
    """A string literal quoted as the formatter wants it (double quotes unless they escape)."""
    return repr(text) if '"' in text and "'" not in text else json.dumps(text)


def _write_sqlite_module() -> None:
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_sqlite_sql.py")
    with open(path, "w", encoding="utf-8") as f:
        f.write(render_sqlite_module())
    sys.stdout.write(f"wrote {path}\n")


if __name__ == "__main__":
    _write_sqlite_module()
