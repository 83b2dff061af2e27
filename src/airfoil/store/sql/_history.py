"""The SQL :class:`TaskHistoryStore`, mixed into :class:`~airfoil.store.sql.SqlMetaStore`.

Rows of ``task_runs`` (revision 0011), one per ended attempt, with every field a column and
an index on ``(project, task, version, ended_at)``: a task version's latest runs are one
index range scan. On SQLite a batch reads the projects of its executions (one ``IN`` query)
and inserts its runs with one ``executemany``, in one transaction; on PostgreSQL it is one
statement whatever the batch's size (its columns as binary arrays, ``unnest`` joined to
``executions`` for the project: a server's driver flushes its attempts' runs every few
tasks, and an ``executemany`` was one statement per run there). Either way a run of an
execution that no longer exists is dropped, and ``ON CONFLICT DO NOTHING`` keeps the first
copy of a run.
A task's metric history joins ``metric_series`` (its ``last_value`` column) to the same
latest runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airfoil.core.history import TaskRun
from airfoil.store._history import RunKey, TaskCount, TaskHistoryStore, TaskVersionCount
from airfoil.store.sql._host import SqlHost
from airfoil.store.sql._pg_arrays import Float8Array, Int8Array, TextArray

__all__ = ["SqlTaskHistoryStore"]


_COLUMNS = "execution_id, node_id, attempt, task, version, started_at, ended_at, ok, project"
#: SQLite: one row per run (``executemany``).
_INSERT = (
    f"INSERT INTO task_runs ({_COLUMNS}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (execution_id, node_id, attempt) DO NOTHING"
)
#: PostgreSQL: a batch of runs in one statement (the arrays from ``_pg_arrays``, binary).
_INSERT_PG = (
    f"INSERT INTO task_runs ({_COLUMNS}) "
    "SELECT r.eid, r.node, r.attempt, r.task, r.version, r.started, r.ended, r.ok <> 0, "
    "e.project FROM unnest(%(eid)b::text[], %(node)b::text[], %(attempt)b::int8[], "
    "%(task)b::text[], %(version)b::text[], %(started)b::float8[], %(ended)b::float8[], "
    "%(ok)b::int8[]) AS r(eid, node, attempt, task, version, started, ended, ok) "
    "JOIN executions e ON e.id = r.eid "
    "ON CONFLICT (execution_id, node_id, attempt) DO NOTHING"
)
_ORDER = " ORDER BY ended_at DESC, execution_id DESC, node_id DESC, attempt DESC"


def _pg_arrays(given: Sequence[TaskRun]) -> dict[str, Any]:
    """The parameters of :data:`_INSERT_PG`: one array per column. A run given twice is sent
    once, its first copy (which of two rows one statement inserts first is the plan's)."""
    seen: set[tuple[str, str, int]] = set()
    runs: list[TaskRun] = []
    for r in given:
        key = (r.execution_id, r.node_id, r.attempt)
        if key not in seen:
            seen.add(key)
            runs.append(r)
    return {
        "eid": TextArray([r.execution_id for r in runs]),
        "node": TextArray([r.node_id for r in runs]),
        "attempt": Int8Array([r.attempt for r in runs]),
        "task": TextArray([r.task for r in runs]),
        "version": TextArray([r.version for r in runs]),
        "started": Float8Array([r.started_at for r in runs]),
        "ended": Float8Array([r.ended_at for r in runs]),
        "ok": Int8Array([1 if r.ok else 0 for r in runs]),
    }


def _row(r: Sequence[Any]) -> TaskRun:
    return TaskRun(
        execution_id=str(r[0]),
        node_id=str(r[1]),
        attempt=int(r[2]),
        task=str(r[3]),
        version=str(r[4]),
        started_at=float(r[5]),
        ended_at=float(r[6]),
        ok=bool(r[7]),
        project=str(r[8]),
    )


class SqlTaskHistoryStore(SqlHost, TaskHistoryStore):
    """The task runs of the host :class:`SqlMetaStore`."""

    def _sql(self, template: str, *names: str) -> str:
        return template.format(**{n: self._mark(n) for n in names})

    def put_task_runs(self, runs: Sequence[TaskRun]) -> None:
        if not runs:
            return
        if self.dialect == "postgresql":
            params = _pg_arrays(runs)
            self._transaction(
                "storing task runs",
                lambda cur: cur.execute(_INSERT_PG, params),
                idempotent=True,
                begin=self._one_statement,  # one statement: autocommit, one round trip
            )
            return
        # SQLite. Positional parameters, rows as tuples: a map's items are written here by
        # the thousand, and binding by name costs a dict per row and a lookup per column.
        executions = sorted({r.execution_id for r in runs})
        marks = ", ".join(["?"] * len(executions))
        lookup = f"SELECT id, project FROM executions WHERE id IN ({marks})"

        def body(cur: Any) -> None:
            cur.execute(lookup, executions)
            projects = {str(eid): str(project) for eid, project in cur.fetchall()}
            rows = [
                (
                    r.execution_id,
                    r.node_id,
                    r.attempt,
                    r.task,
                    r.version,
                    r.started_at,
                    r.ended_at,
                    1 if r.ok else 0,  # an exact int: sqlite3 binds it as is, a bool it adapts
                    projects[r.execution_id],
                )
                for r in runs
                if r.execution_id in projects  # an execution deleted meanwhile: dropped
            ]
            if rows:
                cur.executemany(_INSERT, rows)

        self._transaction("storing task runs", body, idempotent=True)

    def _filter(
        self,
        project: str,
        task: str,
        version: str | None,
        before: float | None,
        exclude_execution: str | None,
        succeeded_only: bool,
    ) -> tuple[str, dict[str, Any]]:
        where = f"project = {self._mark('project')} AND task = {self._mark('task')}"
        params: dict[str, Any] = {"project": project, "task": task}
        if version is not None:
            where += f" AND version = {self._mark('version')}"
            params["version"] = version
        if before is not None:
            where += f" AND ended_at < {self._mark('before')}"
            params["before"] = before
        if exclude_execution is not None:
            where += f" AND execution_id <> {self._mark('exclude')}"
            params["exclude"] = exclude_execution
        if succeeded_only:
            where += f" AND ok = {self._mark('ok')}"
            params["ok"] = True
        return where, params

    def task_runs(
        self,
        project: str,
        task: str,
        *,
        version: str | None = None,
        last: int = 100,
        before: float | None = None,
        exclude_execution: str | None = None,
        succeeded_only: bool = True,
    ) -> list[TaskRun]:
        where, params = self._filter(
            project, task, version, before, exclude_execution, succeeded_only
        )
        params["lim"] = max(0, int(last))
        sql = f"SELECT {_COLUMNS} FROM task_runs WHERE {where}{_ORDER} LIMIT {self._mark('lim')}"
        return [_row(r) for r in self._read(sql, params, "reading task runs")]

    def task_run_metrics(
        self,
        project: str,
        task: str,
        *,
        version: str | None = None,
        last: int = 100,
        before: float | None = None,
        exclude_execution: str | None = None,
    ) -> dict[RunKey, dict[str, float | None]]:
        where, params = self._filter(project, task, version, before, exclude_execution, True)
        params["lim"] = max(0, int(last))
        sql = (
            "SELECT m.execution_id, m.node_id, m.attempt, m.name, m.last_value "
            "FROM metric_series m JOIN (SELECT execution_id, node_id, attempt FROM task_runs "
            f"WHERE {where}{_ORDER} LIMIT {self._mark('lim')}) r "
            "ON m.execution_id = r.execution_id AND m.node_id = r.node_id "
            "AND m.attempt = r.attempt"
        )
        out: dict[RunKey, dict[str, float | None]] = {}
        for eid, nid, attempt, name, value in self._read(sql, params, "reading task metrics"):
            key = (str(eid), str(nid), int(attempt))
            out.setdefault(key, {})[str(name)] = None if value is None else float(value)
        return out

    def execution_task_runs(self, execution_id: str) -> list[TaskRun]:
        sql = (
            f"SELECT {_COLUMNS} FROM task_runs WHERE execution_id = {self._mark('eid')} "
            "ORDER BY node_id, attempt"
        )
        rows = self._read(sql, {"eid": execution_id}, "reading task runs")
        return [_row(r) for r in rows]

    def task_versions(self, project: str, task: str) -> list[TaskVersionCount]:
        sql = (
            "SELECT version, COUNT(*), MAX(ended_at) FROM task_runs "
            f"WHERE project = {self._mark('project')} AND task = {self._mark('task')} "
            "GROUP BY version ORDER BY MAX(ended_at) DESC, version"
        )
        rows = self._read(sql, {"project": project, "task": task}, "reading task versions")
        return [(str(v), int(n), float(at)) for v, n, at in rows]

    def task_names(self, project: str, *, limit: int = 1000) -> list[TaskCount]:
        sql = (
            "SELECT task, COUNT(*), SUM(CASE WHEN ok THEN 0 ELSE 1 END), MAX(ended_at) "
            f"FROM task_runs WHERE project = {self._mark('project')} "
            f"GROUP BY task ORDER BY MAX(ended_at) DESC, task LIMIT {self._mark('lim')}"
        )
        rows = self._read(sql, {"project": project, "lim": limit}, "reading task names")
        return [(str(t), int(n), int(failed), float(at)) for t, n, failed, at in rows]
