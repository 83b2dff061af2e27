"""The store's compiled SQL by name, for one dialect, without importing SQLAlchemy.

:func:`sql_for` gives SQLite's statements from the ahead-of-time ``_sqlite_sql`` module and
compiles PostgreSQL's (SQLAlchemy is already loaded there: the engine needs it).

Invariants:

- Every statement the store runs is an attribute here or a named filter variant; a name
  missing from the dict is a bug found when the store opens (``KeyError``), not at a call.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

__all__ = [
    "EXECUTION_FILTERS",
    "FENCED_KINDS",
    "SCHEDULE_COLUMNS",
    "Positional",
    "SqlText",
    "fenced_name",
    "mark",
    "sql_for",
    "variant_name",
]

#: The filters of list/count_executions, in a fixed order (a variant's key is a subset).
EXECUTION_FILTERS = ("project", "domain", "workflow", "phase")

#: The columns of the schedules table, in the order rows are read.
SCHEDULE_COLUMNS = (
    "project",
    "domain",
    "name",
    "active",
    "next_fire_at",
    "created_at",
    "updated_at",
    "code_root",
    "executor",
    "last_fired_at",
    "last_execution_id",
    "spec",
)


#: The record kinds of a fenced batch, in a fixed order: nodes, attempts, events, cache
#: entries (a fenced statement's variant is the subset a batch holds).
FENCED_KINDS = ("n", "a", "e", "c")


def fenced_name(with_execution: bool, kinds: str) -> str:
    """The dict key of the fenced batch statement writing ``kinds`` (in FENCED_KINDS order)."""
    return f"write_fenced{'_execution' if with_execution else ''}:{kinds}"


def mark(dialect: str, name: str) -> str:
    """The placeholder of the named parameter ``name`` in a statement run on a DBAPI cursor
    of ``dialect``: psycopg's ``%(name)s`` on PostgreSQL, sqlite3's ``:name`` on SQLite (the
    statements built at a call, not in the compiled set; SQLAlchemy is not loaded on SQLite).
    """
    return f"%({name})s" if dialect == "postgresql" else f":{name}"


def variant_name(statement: str, filters: tuple[str, ...]) -> str:
    """The dict key of one filter variant of ``statement``."""
    return f"{statement}:{','.join(filters)}"


_NAMED = re.compile(r"(?<![\w:]):(\w+)")


def positional(statement: str, names: tuple[str, ...]) -> str:
    """SQLite's ``statement`` with ``?`` for its named parameters, which must be ``names``
    in that order (the order of the tuples bound to it).

    Raises:
        ValueError: the statement names other parameters, or in another order.
    """
    found = tuple(_NAMED.findall(statement))
    if found != names:
        raise ValueError(f"expected the parameters {names}, the statement names {found}")
    return _NAMED.sub("?", statement)


class Positional(NamedTuple):
    """SQLite: a batch's node, attempt and event writes with positional parameters, bound
    from tuples (``_rows.node_tuples`` and the others): binding a dict by name costs ~1 us
    a row more, and a chained task writes ~7 rows (issue 17)."""

    upsert_node: str
    upsert_attempt: str
    insert_event: str


class SqlText:
    """Compiled SQL strings, as attributes (fixed statements) and methods (variants)."""

    def __init__(self, dialect: str, sql: dict[str, str]) -> None:
        self._sql = sql
        self.begin_write = "BEGIN IMMEDIATE" if dialect == "sqlite" else "BEGIN"
        self.upsert_execution = sql["upsert_execution"]
        self.upsert_spec = sql["upsert_spec"]
        self.upsert_node = sql["upsert_node"]
        self.upsert_attempt = sql["upsert_attempt"]
        self.insert_event = sql["insert_event"]
        self.positional = (
            Positional(
                positional(self.upsert_node, ("execution_id", "node_id", "record")),
                positional(self.upsert_attempt, ("execution_id", "node_id", "attempt", "record")),
                positional(self.insert_event, ("execution_id", "seq", "record", "cause_id")),
            )
            if dialect == "sqlite"
            else None
        )
        #: PostgreSQL only: all events of a batch in one statement.
        self.insert_events_arrays: str | None = sql.get("insert_events_arrays")
        #: PostgreSQL only: several nodes / attempts upserted in one statement from arrays.
        self.upsert_nodes_arrays: str | None = sql.get("upsert_nodes_arrays")
        self.upsert_attempts_arrays: str | None = sql.get("upsert_attempts_arrays")
        #: PostgreSQL only: a driver's fenced batch as one statement (see ``fenced``).
        self.has_fenced = fenced_name(False, "") in sql
        #: PostgreSQL only: lock (``FOR KEY SHARE``) the executions of a list that exist;
        #: the general write path checks the executions its rows name with it (revision
        #: 0018: no foreign key there on the tables the fenced batch writes).
        self.lock_executions: str | None = sql.get("lock_executions")
        #: PostgreSQL only: the leases of a list of executions in one query.
        self.get_leases: str | None = sql.get("get_leases")
        self.upsert_cache = sql["upsert_cache"]
        self.get_execution = sql["get_execution"]
        self.get_execution_head = sql["get_execution_head"]
        self.execution_exists = sql["execution_exists"]
        self.find_executions = sql["find_executions"]
        self.execution_projects = sql["execution_projects"]
        self.idempotent_launch = sql["idempotent_launch"]
        self.release_idempotency_key = sql["release_idempotency_key"]
        self.get_nodes = sql["get_nodes"]
        self.get_node = sql["get_node"]
        self.get_attempts = sql["get_attempts"]
        self.get_node_attempts = sql["get_node_attempts"]
        self.get_events = sql["get_events"]
        self.get_events_page = sql["get_events_page"]
        self.view_execution = sql["view_execution"]
        self.view_execution_head = sql["view_execution_head"]
        self.get_cache = sql["get_cache"]
        self.list_cache = sql["list_cache"]
        self.list_cache_task = sql["list_cache_task"]
        self.acquire_lease = sql["acquire_lease"]
        self.release_lease = sql["release_lease"]
        self.check_lease = sql["check_lease"]
        self.get_lease = sql["get_lease"]
        self.reserve_cache = sql["reserve_cache"]
        self.cache_holder = sql["cache_holder"]
        self.release_cache = sql["release_cache"]
        self.schedule_upsert = sql["schedule_upsert"]
        self.schedule_get = sql["schedule_get"]
        self.schedule_list_all = sql["schedule_list_all"]
        self.schedule_due = sql["schedule_due"]
        self.schedule_set_active = sql["schedule_set_active"]
        self.schedule_claim = sql["schedule_claim"]
        self.schedule_record_fire = sql["schedule_record_fire"]
        self.schedule_delete = sql["schedule_delete"]
        self.quota_put = sql["quota_put"]
        self.quota_get = sql["quota_get"]
        self.quota_list = sql["quota_list"]
        self.quota_delete = sql["quota_delete"]
        self.snapshot_put = sql["snapshot_put"]
        self.snapshot_list = sql["snapshot_list"]
        self.snapshot_delete = sql["snapshot_delete"]
        self.runtime_put = sql["runtime_put"]
        self.runtime_list = sql["runtime_list"]
        self.scope_create = sql["scope_create"]
        self.scope_delete = sql["scope_delete"]
        self.scope_delete_members = sql["scope_delete_members"]
        self.scope_list = sql["scope_list"]
        self.scope_members = sql["scope_members"]
        self.scope_grant = sql["scope_grant"]
        self.scope_revoke = sql["scope_revoke"]
        self.scope_access = sql["scope_access"]

    def list_executions(self, filters: tuple[str, ...]) -> str:
        """``SELECT`` of executions matching the named filters, newest first, paged."""
        return self._sql[variant_name("list_executions", filters)]

    def list_execution_heads(self, filters: tuple[str, ...]) -> str:
        """:meth:`list_executions` reading each row's head (its record where it has none)."""
        return self._sql[variant_name("list_execution_heads", filters)]

    def page_execution_heads(self, filters: tuple[str, ...]) -> str:
        """:meth:`list_execution_heads` with, on each row, how many rows match in all."""
        return self._sql[variant_name("page_execution_heads", filters)]

    def count_executions(self, filters: tuple[str, ...]) -> str:
        """``SELECT count(*)`` of executions matching the named filters."""
        return self._sql[variant_name("count_executions", filters)]

    def fenced(self, with_execution: bool, kinds: str) -> str:
        """PostgreSQL only: the fenced batch statement writing ``kinds`` (``has_fenced``)."""
        return self._sql[fenced_name(with_execution, kinds)]

    def delete_cache(self, filters: tuple[str, ...]) -> str:
        """``DELETE`` of cache entries matching the named filters (``key``, ``task``)."""
        return self._sql[variant_name("delete_cache", filters)]


def sql_for(dialect: str, sa_dialect: Any = None) -> SqlText:
    """The statements of ``dialect``: SQLite's precompiled, others compiled now."""
    if dialect == "sqlite":
        from airfoil.store.sql._sqlite_sql import SQL

        return SqlText(dialect, SQL)
    from airfoil.store.sql._statements import compile_all

    return SqlText(dialect, compile_all(sa_dialect))
