"""The SQL :class:`ObservabilityStore`, mixed into :class:`~airfoil.store.sql.SqlMetaStore`.

One row per ``(execution_id, node_id, attempt, name)`` in ``metric_series`` (revision 0008):
the task, the kind, the point count and last value as columns (to list and filter without
decoding; ``min_value``, ``max_value`` and ``last_at`` since revision 0012, which the runs
table reads), the whole :class:`~airfoil.core.metrics.MetricSeries` as msgspec JSON in
``record`` (one row holds all points of a series: a 100,000-point curve is one read).
Storing a series again deletes and inserts it in one transaction.

Failures are rows of ``failures`` (revision 0008) keyed by attempt, with ``project``,
``task``, ``version``, ``at`` and ``signature`` as columns; grouping them is three
statements (``GROUP BY signature``; the tasks and versions of each group; each group's
latest attempt with ``ROW_NUMBER() OVER``), so 10,000 failures group inside the database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from airfoil.core.errors import NotFoundError
from airfoil.core.experiments import SeriesStat, series_stat
from airfoil.core.failures import FailureGroup, FailureRecord
from airfoil.core.lazy_json import LazyDecoder
from airfoil.core.metrics import MetricSeries
from airfoil.core.records import encode_json
from airfoil.store._observability import ObservabilityStore
from airfoil.store.sql._history import SqlTaskHistoryStore
from airfoil.store.sql._sql_text import mark

__all__ = ["SqlObservabilityStore"]

_SERIES = LazyDecoder(MetricSeries)
_FAILURE = LazyDecoder(FailureRecord)

_DELETE = (
    "DELETE FROM metric_series WHERE execution_id = {e} AND node_id = {n} AND attempt = {a} "
    "AND name = {m}"
)
_INSERT = (
    "INSERT INTO metric_series (execution_id, node_id, attempt, name, task, kind, points, "
    "last_value, record, min_value, max_value, last_at) "
    "VALUES ({e}, {n}, {a}, {m}, {t}, {k}, {p}, {v}, {r}, {lo}, {hi}, {lat})"
)
_STATS = (
    "SELECT execution_id, node_id, attempt, name, kind, points, last_value, last_at, "
    "min_value, max_value FROM metric_series WHERE execution_id IN ({ids})"
)
#: Execution ids per ``IN (...)`` statement (below every backend's parameter limit).
_STATS_BATCH = 500
_SELECT = "SELECT record FROM metric_series WHERE execution_id = {e}"
_ORDER = " ORDER BY node_id, attempt, name"
_DELETE_FAILURE = (
    "DELETE FROM failures WHERE execution_id = {e} AND node_id = {n} AND attempt = {a}"
)
_INSERT_FAILURE = (
    "INSERT INTO failures (execution_id, node_id, attempt, project, task, version, at, "
    "signature, record) VALUES ({e}, {n}, {a}, {pr}, {t}, {ve}, {at}, {sg}, {r})"
)
_GROUPS = (
    "SELECT signature, COUNT(*), COUNT(DISTINCT execution_id), MIN(at), MAX(at) "
    "FROM failures WHERE {where} GROUP BY signature "
    "ORDER BY COUNT(*) DESC, MAX(at) DESC, signature LIMIT {lim}"
)
_GROUP_TASKS = (
    "SELECT DISTINCT signature, task, version FROM failures WHERE {where} AND signature IN ({sigs})"
)
_LATEST = (
    "SELECT record FROM (SELECT record, ROW_NUMBER() OVER (PARTITION BY signature "
    "ORDER BY at DESC, execution_id DESC, node_id DESC, attempt DESC) AS rn "
    "FROM failures WHERE {where} AND signature IN ({sigs})) AS latest WHERE rn = 1"
)
_FAILURES = (
    "SELECT record FROM failures WHERE {where} AND signature = {sg} "
    "ORDER BY at DESC, execution_id, node_id, attempt LIMIT {lim}"
)
_NAMES = {
    "e": "eid",
    "n": "node",
    "a": "attempt",
    "m": "name",
    "t": "task",
    "k": "kind",
    "p": "points",
    "v": "last_value",
    "r": "record",
    "pr": "project",
    "ve": "version",
    "at": "at",
    "sg": "signature",
    "lo": "min_value",
    "hi": "max_value",
    "lat": "last_at",
    "since": "since",
    "lim": "lim",
}


def _params(dialect: str, sql: str, **extra: str) -> str:
    """``sql`` with its ``{key}`` fields (:data:`_NAMES`' and ``extra``'s, key to parameter
    name) replaced by the placeholders of ``dialect``."""
    names = {**_NAMES, **extra}
    return sql.format(**{k: mark(dialect, v) for k, v in names.items()})


class SqlObservabilityStore(SqlTaskHistoryStore, ObservabilityStore):
    """The metric series, failures and task runs of the host :class:`SqlMetaStore`."""

    def put_metric_series(self, series: Sequence[MetricSeries]) -> None:
        if not series:
            return
        delete, insert = _params(self.dialect, _DELETE), _params(self.dialect, _INSERT)
        rows = []
        for s in series:
            last = s.last
            stat = series_stat(s)
            rows.append(
                {
                    "eid": s.execution_id,
                    "node": s.node_id,
                    "attempt": s.attempt,
                    "name": s.name,
                    "task": s.task,
                    "kind": s.kind,
                    "points": s.count,
                    # NaN/inf have no portable SQL spelling: the column says "no number".
                    "last_value": last if last is not None and math.isfinite(last) else None,
                    "record": encode_json(s).decode(),
                    "min_value": stat.min,
                    "max_value": stat.max,
                    "last_at": stat.last_at,
                }
            )
        executions = sorted({s.execution_id for s in series})

        def body(cur: Any) -> str | None:
            for eid in executions:
                cur.execute(self._s.execution_exists, {"id": eid})
                if cur.fetchone() is None:
                    return eid
            for row in rows:
                cur.execute(delete, row)
                cur.execute(insert, row)
            return None

        missing = self._transaction("storing metric series", body)
        if missing is not None:
            raise NotFoundError(f"execution {missing!r} does not exist")

    def metric_series(
        self, execution_id: str, node_id: str | None = None, name: str | None = None
    ) -> list[MetricSeries]:
        sql = _SELECT
        params: dict[str, Any] = {"eid": execution_id}
        if node_id is not None:
            sql += " AND node_id = {n}"
            params["node"] = node_id
        if name is not None:
            sql += " AND name = {m}"
            params["name"] = name
        rows = self._read(_params(self.dialect, sql + _ORDER), params, "reading metric series")
        return [_SERIES.decode(r[0]) for r in rows]

    def metric_stats(
        self, execution_ids: Sequence[str], names: Sequence[str] | None = None
    ) -> list[SeriesStat]:
        ids = sorted(set(execution_ids))
        out: list[SeriesStat] = []
        for start in range(0, len(ids), _STATS_BATCH):
            batch = ids[start : start + _STATS_BATCH]
            params: dict[str, Any] = {f"id{i}": eid for i, eid in enumerate(batch)}
            sql = _STATS.format(ids=", ".join(self._mark(f"id{i}") for i in range(len(batch))))
            if names is not None:
                if not names:
                    return []
                named = sorted(set(names))
                params.update({f"nm{i}": n for i, n in enumerate(named)})
                marks = ", ".join(self._mark(f"nm{i}") for i in range(len(named)))
                sql += f" AND name IN ({marks})"
            for eid, node, attempt, name, kind, points, last, last_at, lo, hi in self._read(
                sql + " ORDER BY execution_id, node_id, attempt, name",
                params,
                "reading metric summaries",
            ):
                out.append(
                    SeriesStat(
                        execution_id=str(eid),
                        node_id=str(node),
                        attempt=int(attempt),
                        name=str(name),
                        kind=str(kind),
                        points=int(points),
                        last=None if last is None else float(last),
                        last_at=None if last_at is None else float(last_at),
                        min=None if lo is None else float(lo),
                        max=None if hi is None else float(hi),
                    )
                )
        return out

    def put_failure(self, failure: FailureRecord) -> None:
        delete = _params(self.dialect, _DELETE_FAILURE)
        insert = _params(self.dialect, _INSERT_FAILURE)
        row = {
            "eid": failure.execution_id,
            "node": failure.node_id,
            "attempt": failure.attempt,
            "project": failure.project,
            "task": failure.task,
            "version": failure.version,
            "at": failure.at,
            "signature": failure.signature,
            "record": encode_json(failure).decode(),
        }

        def body(cur: Any) -> bool:
            cur.execute(self._s.execution_exists, {"id": failure.execution_id})
            if cur.fetchone() is None:
                return False
            cur.execute(delete, row)
            cur.execute(insert, row)
            return True

        if not self._transaction("storing a failure", body):
            raise NotFoundError(f"execution {failure.execution_id!r} does not exist")

    def _where(
        self, project: str, since: float | None, task: str | None
    ) -> tuple[str, dict[str, Any]]:
        where = "project = {pr}"
        params: dict[str, Any] = {"project": project}
        if since is not None:
            where += " AND at >= {since}"
            params["since"] = since
        if task is not None:
            where += " AND task = {t}"
            params["task"] = task
        return where, params

    def failure_groups(
        self,
        project: str,
        *,
        since: float | None = None,
        task: str | None = None,
        limit: int = 100,
    ) -> list[FailureGroup]:
        where, params = self._where(project, since, task)
        params["lim"] = int(limit)
        sql = _params(self.dialect, _GROUPS.format(where=where, lim="{lim}"))
        counted = self._read(sql, params, "grouping failures")
        if not counted:
            return []
        sigs = [str(r[0]) for r in counted]
        marks = ", ".join(f"{{s{i}}}" for i in range(len(sigs)))
        extra = {f"s{i}": f"sig{i}" for i in range(len(sigs))}
        for i, sig in enumerate(sigs):
            params[f"sig{i}"] = sig

        def render(template: str) -> str:
            return _params(self.dialect, template.format(where=where, sigs=marks), **extra)

        tasks: dict[str, set[str]] = {}
        for sig, task_name, version in self._read(
            render(_GROUP_TASKS), params, "grouping failures"
        ):
            tasks.setdefault(str(sig), set()).add(f"{task_name}@{version}")
        latest = {}
        for (record,) in self._read(render(_LATEST), params, "grouping failures"):
            example = _FAILURE.decode(record)
            latest[example.signature] = example
        out = []
        for sig, count, executions, first, last in counted:
            example = latest[str(sig)]
            out.append(
                FailureGroup(
                    signature=str(sig),
                    type=example.type,
                    pattern=example.pattern,
                    frame=example.frame,
                    count=int(count),
                    executions=int(executions),
                    first_seen=float(first),
                    last_seen=float(last),
                    tasks=sorted(tasks.get(str(sig), ())),
                    example=example,
                )
            )
        return out

    def failures(
        self, project: str, signature: str, *, since: float | None = None, limit: int = 100
    ) -> list[FailureRecord]:
        where, params = self._where(project, since, None)
        params["signature"] = signature
        params["lim"] = int(limit)
        sql = _params(self.dialect, _FAILURES.format(where=where, sg="{sg}", lim="{lim}"))
        return [_FAILURE.decode(r[0]) for r in self._read(sql, params, "reading failures")]
