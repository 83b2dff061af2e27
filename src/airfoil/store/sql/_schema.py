"""The SQL schema of the metadata store, as SQLAlchemy Core tables.

Each table keeps the whole record as its msgspec JSON encoding in ``record`` (text, so a
person can read it with ``sqlite3`` or ``psql``; the exact bytes decode back to an equal
record), plus only the columns needed to find, filter and sort rows.

Invariants:

- This module and the Alembic revisions describe the same schema: a test compares the
  database Alembic builds against :data:`metadata`, and one a new store creates from it
  (``_create``). Change both together, in a new revision, and render the SQLite DDL again
  (``python scripts/render_sqlite_ddl.py``).
- :data:`HEAD_REVISION` is the newest Alembic revision; the store checks it (one query) on
  open and runs Alembic only when the database is behind.
- String keys sort by code point on every backend (SQLite's ``BINARY`` collation,
  PostgreSQL's ``"C"``), the same order as Python's ``sorted``.
"""

from __future__ import annotations

import sqlalchemy as sa

from airfoil.store.sql._revision import HEAD_REVISION, KNOWN_REVISIONS

__all__ = [
    "HEAD_REVISION",
    "KNOWN_REVISIONS",
    "KEY",
    "NODES_FILLFACTOR",
    "attempts",
    "cache_entries",
    "cache_scope_members",
    "cache_scopes",
    "cache_reservations",
    "control_messages",
    "events",
    "execution_specs",
    "executions",
    "failures",
    "metadata",
    "metric_series",
    "nodes",
    "project_quotas",
    "queue_snapshots",
    "schedules",
    "task_runs",
    "task_runtimes",
]

#: A string key: byte-order collation on PostgreSQL, so orderings match SQLite and Python.
KEY = sa.String().with_variant(sa.String(collation="C"), "postgresql")

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
    }
)


def _execution_fk() -> sa.ForeignKey:
    return sa.ForeignKey("executions.id", ondelete="CASCADE")


def _fenced_child_fk(table: str) -> sa.ForeignKeyConstraint:
    """The foreign key of a table the driver's fenced batch writes (nodes, attempts,
    events), on SQLite only (revision 0018).

    On PostgreSQL every row of a fenced batch belongs to the execution whose row the
    batch's fence has just updated, and so locked, in the same statement: the constraint's
    check (a ``SELECT ... FOR KEY SHARE`` of that row per inserted row, ~9 per trivial task,
    ~12% of the backends' CPU in the server's profile) proved nothing there. The store's
    other writes check the executions their rows name themselves, in their transaction
    (``SqlMetaStore._write_once``). No code deletes executions, so the cascade is not missed.
    """
    return sa.ForeignKeyConstraint(
        ["execution_id"], ["executions.id"], name=f"fk_{table}_execution_id", ondelete="CASCADE"
    ).ddl_if(dialect="sqlite")


executions = sa.Table(
    "executions",
    metadata,
    sa.Column("id", KEY, primary_key=True),
    sa.Column("project", KEY, nullable=False),
    sa.Column("domain", KEY, nullable=False),
    sa.Column("workflow", KEY, nullable=False),
    sa.Column("phase", KEY, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("lease_owner", KEY, nullable=True),
    sa.Column("lease_expires_at", sa.Double, nullable=True),
    sa.Column("record", sa.Text, nullable=False),
    # The record's ExecutionHead JSON (revision 0014; NULL in rows written before it: read
    # ``record`` then, which decodes as a head too).
    sa.Column("head", sa.Text, nullable=True),
    # The name the execution's project addresses it by (revision 0019): unique within its
    # project and domain, not across projects (the id is the global key every other table
    # uses). A generated id is its own name; so is the id of a row written before 0019.
    # The default only lets SQLite add the column without copying the table (every write
    # names it).
    sa.Column("name", KEY, nullable=False, server_default=""),
    sa.Index("ux_executions_project_name_domain", "project", "name", "domain", unique=True),
    # The ``Idempotency-Key`` of the launch request that made it (revision 0022): unique
    # within its project while the server keeps it (NULL: none, or released past the
    # server's retention window). Written by the insert only.
    sa.Column("idempotency_key", KEY, nullable=True),
    sa.Index("ux_executions_project_idempotency_key", "project", "idempotency_key", unique=True),
    sa.Index(None, "created_at", "id"),
    sa.Index(None, "project", "domain", "created_at", "id"),
    sa.Index(None, "workflow", "created_at", "id"),
    sa.Index(None, "phase", "created_at", "id"),
)

#: An execution's workflow spec (revision 0021), apart from its row: the row is rewritten by
#: every batch that changes the execution (and by each take and release of its lease), its
#: spec (a chain of 100: 47 KB of JSON, a dozen overflow pages) only at its launch. Its
#: ``record`` then holds the rest (``_records.record_json``); a reader of the whole record
#: reads both.
execution_specs = sa.Table(
    "execution_specs",
    metadata,
    sa.Column("execution_id", KEY, _execution_fk(), primary_key=True),
    sa.Column("spec", sa.Text, nullable=False),
)

#: A node's row is written at its launch and rewritten at each move (queued, running, ended:
#: ~3 updates per task), all in ``record``, which no index covers. PostgreSQL leaves half of
#: each page free (revision 0015) so an update finds room on its row's page: a heap-only
#: update, no new index entry and no row moved to another page.
NODES_FILLFACTOR = 50

nodes = sa.Table(
    "nodes",
    metadata,
    sa.Column("execution_id", KEY, primary_key=True),
    sa.Column("node_id", KEY, primary_key=True),
    sa.Column("record", sa.Text, nullable=False),
    _fenced_child_fk("nodes"),
    postgresql_with={"fillfactor": NODES_FILLFACTOR},
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("execution_id", KEY, primary_key=True),
    sa.Column("node_id", KEY, primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("record", sa.Text, nullable=False),
    _fenced_child_fk("attempts"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("execution_id", KEY, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("record", sa.Text, nullable=False),
    # The seq of the entry that caused this one (revision 0007; 0: from outside the engine).
    # Not indexed (revision 0015 dropped 0007's index): every reader takes an execution's
    # log by its primary key and follows causes in memory; an index no query used cost one
    # more B-tree entry per event, ~4 per task.
    sa.Column("cause_id", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    _fenced_child_fk("events"),
)

cache_entries = sa.Table(
    "cache_entries",
    metadata,
    sa.Column("key", KEY, primary_key=True),
    sa.Column("task", KEY, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("record", sa.Text, nullable=False),
    sa.Index(None, "task", "created_at", "key"),
    sa.Index(None, "created_at", "key"),
)

cache_reservations = sa.Table(
    "cache_reservations",
    metadata,
    sa.Column("key", KEY, primary_key=True),
    sa.Column("owner", KEY, nullable=False),
    sa.Column("expires_at", sa.Double, nullable=False),
)

#: Activated launch plans (revision 0002). The launch plan spec is JSON in ``spec``; the
#: columns the scheduler loop changes (``active``, ``next_fire_at``, ...) are plain columns,
#: so claiming a firing is one conditional ``UPDATE``.
schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("project", KEY, primary_key=True),
    sa.Column("domain", KEY, primary_key=True),
    sa.Column("name", KEY, primary_key=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("next_fire_at", sa.Double, nullable=True),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("code_root", sa.Text, nullable=False),
    sa.Column("executor", KEY, nullable=False),
    sa.Column("last_fired_at", sa.Double, nullable=True),
    sa.Column("last_execution_id", KEY, nullable=False),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Index(None, "active", "next_fire_at"),
)

#: Project quotas and priorities (revision 0003), as ``airfoil quotas set`` stores them; the
#: whole :class:`~airfoil.store._scheduling.ProjectQuota` is JSON in ``record``.
project_quotas = sa.Table(
    "project_quotas",
    metadata,
    sa.Column("project", KEY, primary_key=True),
    sa.Column("record", sa.Text, nullable=False),
)

#: What each admitting process holds (revision 0003): one row per process, replaced whole.
queue_snapshots = sa.Table(
    "queue_snapshots",
    metadata,
    sa.Column("owner", KEY, primary_key=True),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("record", sa.Text, nullable=False),
)

#: Durations of successful attempts per task (revision 0003): run-time estimates.
task_runtimes = sa.Table(
    "task_runtimes",
    metadata,
    sa.Column("execution_id", KEY, primary_key=True),
    sa.Column("node_id", KEY, primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("task", KEY, nullable=False),
    sa.Column("ended_at", sa.Double, nullable=False),
    sa.Column("duration", sa.Double, nullable=False),
    sa.Index(None, "task", "ended_at"),
)

#: The control inbox (revision 0005): signals and terminate requests to an execution, first
#: one of each ``(execution, kind, name)`` wins; the whole
#: :class:`~airfoil.store._control.ControlMessage` is JSON in ``record``.
control_messages = sa.Table(
    "control_messages",
    metadata,
    sa.Column("execution_id", KEY, _execution_fk(), primary_key=True),
    sa.Column("kind", KEY, primary_key=True),
    sa.Column("name", KEY, primary_key=True),
    sa.Column("sent_at", sa.Double, nullable=False),
    sa.Column("record", sa.Text, nullable=False),
)

#: Metric time series of attempts (revision 0008): one row per ``(execution, node, attempt,
#: name)``, the whole :class:`~airfoil.core.metrics.MetricSeries` as JSON in ``record``;
#: ``task``/``name`` indexed to find a metric across runs. ``min_value``/``max_value`` (finite
#: points) and ``last_at`` (revision 0012) summarise it for the runs table without decoding.
metric_series = sa.Table(
    "metric_series",
    metadata,
    sa.Column("execution_id", KEY, _execution_fk(), primary_key=True),
    sa.Column("node_id", KEY, primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", KEY, primary_key=True),
    sa.Column("task", KEY, nullable=False),
    sa.Column("kind", KEY, nullable=False),
    sa.Column("points", sa.Integer, nullable=False),
    sa.Column("last_value", sa.Double, nullable=True),
    sa.Column("record", sa.Text, nullable=False),
    sa.Column("min_value", sa.Double, nullable=True),
    sa.Column("max_value", sa.Double, nullable=True),
    sa.Column("last_at", sa.Double, nullable=True),
    sa.Index(None, "task", "name"),
)

#: Failed attempts with their signatures (revision 0008): the whole
#: :class:`~airfoil.core.failures.FailureRecord` as JSON in ``record``; grouped by
#: ``signature`` within a project (and a time window, a task).
failures = sa.Table(
    "failures",
    metadata,
    sa.Column("execution_id", KEY, _execution_fk(), primary_key=True),
    sa.Column("node_id", KEY, primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("project", KEY, nullable=False),
    sa.Column("task", KEY, nullable=False),
    sa.Column("version", KEY, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("signature", KEY, nullable=False),
    sa.Column("record", sa.Text, nullable=False),
    sa.Index(None, "project", "signature", "at"),
    sa.Index(None, "project", "at"),
)

#: Ended attempts of every task version (revision 0011), written in batches by the
#: observability hooks: the history ``airfoil tasks stats`` and anomaly flags read.
task_runs = sa.Table(
    "task_runs",
    metadata,
    sa.Column("execution_id", KEY, _execution_fk(), primary_key=True),
    sa.Column("node_id", KEY, primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("project", KEY, nullable=False),
    sa.Column("task", KEY, nullable=False),
    sa.Column("version", KEY, nullable=False),
    sa.Column("started_at", sa.Double, nullable=False),
    sa.Column("ended_at", sa.Double, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Index(None, "project", "task", "version", "ended_at"),
)

#: Declared cache scopes (revision 0020; see :mod:`airfoil.store._cache_scopes`): a task's
#: ``cache_scope=`` names one; its members say which projects may read and write it.
cache_scopes = sa.Table(
    "cache_scopes",
    metadata,
    sa.Column("name", KEY, primary_key=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
)

#: The members of each declared scope (revision 0020): ``project`` is a project's name or
#: ``*`` (every project), ``access`` is ``read`` or ``write``. Deleted with their scope.
cache_scope_members = sa.Table(
    "cache_scope_members",
    metadata,
    sa.Column("scope", KEY, primary_key=True),
    sa.Column("project", KEY, primary_key=True),
    sa.Column("access", sa.String(10), nullable=False),
    sa.Column("granted_at", sa.Double, nullable=False),
)
