"""The SQL :class:`ObservabilityStore`, mixed into :class:`~airfoil.store.sql.SqlMetaStore`.

One row per ``(execution_id, node_id, attempt, name)`` in ``metric_series`` (revision 0008):
the task, the kind, the point count and last value as columns (to list and filter without
decoding), the whole :class:`~airfoil.core.metrics.MetricSeries` as msgspec JSON in
``record`` (one row holds all points of a series: a 100,000-point curve is one read).
Storing a series again deletes and inserts it in one transaction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import msgspec

from airfoil.core.errors import NotFoundError
from airfoil.core.metrics import MetricSeries
from airfoil.core.records import encode_json
from airfoil.store._observability import ObservabilityStore
from airfoil.store.sql._sql_text import SqlText

__all__ = ["SqlObservabilityStore"]

_T = TypeVar("_T")
_SERIES = msgspec.json.Decoder(MetricSeries)

_DELETE = (
    "DELETE FROM metric_series WHERE execution_id = {e} AND node_id = {n} AND attempt = {a} "
    "AND name = {m}"
)
_INSERT = (
    "INSERT INTO metric_series (execution_id, node_id, attempt, name, task, kind, points, "
    "last_value, record) VALUES ({e}, {n}, {a}, {m}, {t}, {k}, {p}, {v}, {r})"
)
_SELECT = "SELECT record FROM metric_series WHERE execution_id = {e}"
_ORDER = " ORDER BY node_id, attempt, name"
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
}


def _params(dialect: str, sql: str) -> str:
    style = "%({})s" if dialect == "postgresql" else ":{}"
    return sql.format(**{k: style.format(v) for k, v in _NAMES.items()})


class SqlObservabilityStore(ObservabilityStore):
    """The metric series of the host :class:`SqlMetaStore`."""

    # Provided by SqlMetaStore.
    _s: SqlText
    dialect: str

    def _read(self, sql: str, params: dict[str, Any], action: str) -> list[Any]:
        raise NotImplementedError  # pragma: no cover - SqlMetaStore's

    def _transaction(self, action: str, body: Callable[[Any], _T]) -> _T:
        raise NotImplementedError  # pragma: no cover - SqlMetaStore's

    def put_metric_series(self, series: Sequence[MetricSeries]) -> None:
        if not series:
            return
        delete, insert = _params(self.dialect, _DELETE), _params(self.dialect, _INSERT)
        rows = []
        for s in series:
            last = s.last
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
