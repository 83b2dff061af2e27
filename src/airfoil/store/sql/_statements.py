"""The SQL the store runs, built with SQLAlchemy Core and compiled once per dialect.

Statements are compiled to driver SQL strings when a store opens and run straight on the
DBAPI cursor, which keeps a call down to the driver's own cost. Parameters are always
passed by name (SQLite ``:name``, psycopg ``%(name)s``), as dicts.

Invariants:

- Every bind parameter is an explicit, named :func:`sqlalchemy.bindparam`; no statement
  carries a literal value, so the compiled string is the whole statement.
- Upserts never touch an execution's lease columns: writing a record keeps its lease.
- The event insert is a plain ``INSERT`` (no upsert): a duplicate ``(execution_id, seq)`` is
  a unique violation the store turns into :class:`~airfoil.core.errors.ConflictError`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from airfoil.store.sql import _schema as s

__all__ = ["EXECUTION_FILTERS", "Statements"]

#: The filters of list/count_executions, in a fixed order (a variant's key is a subset).
EXECUTION_FILTERS = ("project", "domain", "workflow", "phase")

_bp = sa.bindparam


class Statements:
    """Compiled SQL strings for one dialect."""

    def __init__(self, dialect: sa.Dialect) -> None:
        self._dialect = dialect
        self.begin_write = "BEGIN IMMEDIATE" if dialect.name == "sqlite" else "BEGIN"
        # Imported here so a SQLite user never loads the PostgreSQL dialect, and vice versa.
        self._insert: Any
        if dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            self._insert = sqlite_insert
        else:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            self._insert = pg_insert
        self._variants: dict[tuple[str, tuple[str, ...]], str] = {}
        ex, ce, cr = s.executions, s.cache_entries, s.cache_reservations

        self.upsert_execution = self._upsert(
            ex, ("id", "project", "domain", "workflow", "phase", "created_at", "record"), ("id",)
        )
        self.upsert_node = self._upsert(s.nodes, ("execution_id", "node_id", "record"), 2)
        self.upsert_attempt = self._upsert(
            s.attempts, ("execution_id", "node_id", "attempt", "record"), 3
        )
        event_columns = ("execution_id", "seq", "record")
        self.insert_event = self._compile(
            sa.insert(s.events).values({c: _bp(c) for c in event_columns})
        )
        #: PostgreSQL: all events of a batch in one statement, from parallel arrays (one
        #: round trip, and a duplicate fails the statement, not a half-run pipeline).
        self.insert_events_arrays: str | None = None
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import ARRAY

            arrays = [
                sa.func.unnest(_bp("execution_id", type_=ARRAY(sa.String()))),
                sa.func.unnest(_bp("seq", type_=ARRAY(sa.BigInteger()))),
                sa.func.unnest(_bp("record", type_=ARRAY(sa.Text()))),
            ]
            self.insert_events_arrays = self._compile(
                sa.insert(s.events).from_select(list(event_columns), sa.select(*arrays))
            )
        self.upsert_cache = self._upsert(ce, ("key", "task", "created_at", "record"), ("key",))

        self.get_execution = self._compile(sa.select(ex.c.record).where(ex.c.id == _bp("id")))
        self.execution_exists = self._compile(sa.select(ex.c.id).where(ex.c.id == _bp("id")))
        n, a, e = s.nodes, s.attempts, s.events
        self.get_nodes = self._compile(
            sa.select(n.c.record).where(n.c.execution_id == _bp("eid")).order_by(n.c.node_id)
        )
        self.get_node = self._compile(
            sa.select(n.c.record).where(n.c.execution_id == _bp("eid"), n.c.node_id == _bp("nid"))
        )
        attempts = sa.select(a.c.record).where(a.c.execution_id == _bp("eid"))
        self.get_attempts = self._compile(attempts.order_by(a.c.node_id, a.c.attempt))
        self.get_node_attempts = self._compile(
            attempts.where(a.c.node_id == _bp("nid")).order_by(a.c.attempt)
        )
        self.get_events = self._compile(
            sa.select(e.c.record)
            .where(e.c.execution_id == _bp("eid"), e.c.seq > _bp("after", type_=sa.BigInteger))
            .order_by(e.c.seq)
        )

        self.get_cache = self._compile(sa.select(ce.c.record).where(ce.c.key == _bp("key")))
        newest = (ce.c.created_at.desc(), ce.c.key.desc())
        # SQLite renders LIMIT with an OFFSET: give it an explicit one (always 0).
        limit, offset = _bp("limit", type_=sa.Integer), _bp("offset", type_=sa.Integer)
        entries = sa.select(ce.c.record).order_by(*newest).limit(limit).offset(offset)
        self.list_cache = self._compile(entries)
        self.list_cache_task = self._compile(entries.where(ce.c.task == _bp("task")))

        holds = ex.c.lease_owner.is_(None) | (ex.c.lease_owner == _bp("owner"))
        self.acquire_lease = self._compile(
            sa.update(ex)
            .where(ex.c.id == _bp("id"), holds | (ex.c.lease_expires_at <= _bp("now")))
            .values(lease_owner=_bp("owner"), lease_expires_at=_bp("expires"))
        )
        self.release_lease = self._compile(
            sa.update(ex)
            .where(ex.c.id == _bp("id"), ex.c.lease_owner == _bp("owner"))
            .values(lease_owner=sa.null(), lease_expires_at=sa.null())
        )

        self.get_lease = self._compile(
            sa.select(ex.c.lease_owner, ex.c.lease_expires_at).where(ex.c.id == _bp("id"))
        )

        reserve = self._insert(cr).values(
            key=_bp("key"), owner=_bp("owner"), expires_at=_bp("expires")
        )
        self.reserve_cache = self._compile(
            reserve.on_conflict_do_update(
                index_elements=[cr.c.key],
                set_={"owner": reserve.excluded.owner, "expires_at": reserve.excluded.expires_at},
                where=(cr.c.owner == reserve.excluded.owner) | (cr.c.expires_at <= _bp("now")),
            )
        )
        self.cache_holder = self._compile(sa.select(cr.c.owner).where(cr.c.key == _bp("key")))
        self.release_cache = self._compile(
            sa.delete(cr).where(cr.c.key == _bp("key"), cr.c.owner == _bp("owner"))
        )

    def _compile(self, stmt: sa.ClauseElement) -> str:
        compiled = stmt.compile(dialect=self._dialect)
        literal = {k: v for k, v in compiled.params.items() if v is not None}
        if literal:  # a value baked into the statement would be silently missing at run time
            raise AssertionError(f"statement has literal parameters {literal}: {compiled}")
        return str(compiled)

    def _upsert(self, table: sa.Table, columns: tuple[str, ...], key: tuple[str, ...] | int) -> str:
        keys = columns[:key] if isinstance(key, int) else key
        stmt = self._insert(table).values({c: _bp(c) for c in columns})
        return self._compile(
            stmt.on_conflict_do_update(
                index_elements=[table.c[k] for k in keys],
                set_={c: stmt.excluded[c] for c in columns if c not in keys},
            )
        )

    def list_executions(self, filters: tuple[str, ...]) -> str:
        """``SELECT`` of executions matching the named filters, newest first, paged."""
        sql = self._variants.get(("list", filters))
        if sql is None:
            ex = s.executions
            stmt = (
                sa.select(ex.c.record)
                .where(*[ex.c[f] == _bp(f) for f in filters])
                .order_by(ex.c.created_at.desc(), ex.c.id.desc())
                .limit(_bp("limit", type_=sa.Integer))
                .offset(_bp("offset", type_=sa.Integer))
            )
            sql = self._variants[("list", filters)] = self._compile(stmt)
        return sql

    def count_executions(self, filters: tuple[str, ...]) -> str:
        """``SELECT count(*)`` of executions matching the named filters."""
        sql = self._variants.get(("count", filters))
        if sql is None:
            ex = s.executions
            stmt = (
                sa.select(sa.func.count())
                .select_from(ex)
                .where(*[ex.c[f] == _bp(f) for f in filters])
            )
            sql = self._variants[("count", filters)] = self._compile(stmt)
        return sql

    def delete_cache(self, filters: tuple[str, ...]) -> str:
        """``DELETE`` of cache entries matching the named filters (``key``, ``task``)."""
        sql = self._variants.get(("delete_cache", filters))
        if sql is None:
            ce = s.cache_entries
            stmt = sa.delete(ce).where(*[ce.c[f] == _bp(f) for f in filters])
            sql = self._variants[("delete_cache", filters)] = self._compile(stmt)
        return sql
