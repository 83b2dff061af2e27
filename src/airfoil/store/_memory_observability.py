"""The in-memory :class:`ObservabilityStore`, mixed into
:class:`~airfoil.store.memory.MemoryMetaStore`.

Invariants: series are kept as msgspec JSON (so a caller never shares a list with the store)
and decoded on read; every method holds the host store's one lock (``self._lock``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from airfoil.core.errors import NotFoundError
from airfoil.core.experiments import SeriesStat, series_stat
from airfoil.core.failures import FailureGroup, FailureRecord
from airfoil.core.lazy_json import LazyDecoder
from airfoil.core.metrics import MetricSeries
from airfoil.core.records import encode_json
from airfoil.store._memory_history import MemoryTaskHistoryStore
from airfoil.store._observability import ObservabilityStore

__all__ = ["MemoryObservabilityStore"]

_SERIES = LazyDecoder(MetricSeries)
_FAILURE = LazyDecoder(FailureRecord)


class MemoryObservabilityStore(MemoryTaskHistoryStore, ObservabilityStore):
    """Metric series and failures in dicts under the host store's lock."""

    _lock: threading.Lock
    _executions: dict[str, Any]

    def _series_rows(self) -> dict[tuple[str, str, int, str], bytes]:
        """The series (created on first use); call with ``self._lock`` held."""
        rows: dict[tuple[str, str, int, str], bytes] | None = self.__dict__.get("_metric_rows")
        if rows is None:
            rows = self.__dict__["_metric_rows"] = {}
        return rows

    def put_metric_series(self, series: Sequence[MetricSeries]) -> None:
        encoded = [((s.execution_id, s.node_id, s.attempt, s.name), encode_json(s)) for s in series]
        with self._lock:
            for s in series:
                if s.execution_id not in self._executions:
                    raise NotFoundError(f"execution {s.execution_id!r} does not exist")
            rows = self._series_rows()
            for key, data in encoded:
                rows[key] = data

    def metric_series(
        self, execution_id: str, node_id: str | None = None, name: str | None = None
    ) -> list[MetricSeries]:
        with self._lock:
            found = sorted(
                (key, data)
                for key, data in self._series_rows().items()
                if key[0] == execution_id
                and (node_id is None or key[1] == node_id)
                and (name is None or key[3] == name)
            )
        return [_SERIES.decode(data) for _, data in found]

    def metric_stats(
        self, execution_ids: Sequence[str], names: Sequence[str] | None = None
    ) -> list[SeriesStat]:
        wanted, named = set(execution_ids), None if names is None else set(names)
        with self._lock:
            found = sorted(
                (key, data)
                for key, data in self._series_rows().items()
                if key[0] in wanted and (named is None or key[3] in named)
            )
        return [series_stat(_SERIES.decode(data)) for _, data in found]

    def _failure_rows(self) -> dict[tuple[str, str, int], bytes]:
        """The failures (created on first use); call with ``self._lock`` held."""
        rows: dict[tuple[str, str, int], bytes] | None = self.__dict__.get("_failure_rows_")
        if rows is None:
            rows = self.__dict__["_failure_rows_"] = {}
        return rows

    def put_failure(self, failure: FailureRecord) -> None:
        data = encode_json(failure)
        with self._lock:
            if failure.execution_id not in self._executions:
                raise NotFoundError(f"execution {failure.execution_id!r} does not exist")
            self._failure_rows()[(failure.execution_id, failure.node_id, failure.attempt)] = data

    def _matching(
        self, project: str, since: float | None, task: str | None, signature: str | None = None
    ) -> list[FailureRecord]:
        with self._lock:
            found = [_FAILURE.decode(d) for d in self._failure_rows().values()]
        return [
            f
            for f in found
            if f.project == project
            and (since is None or f.at >= since)
            and (task is None or f.task == task)
            and (signature is None or f.signature == signature)
        ]

    def failure_groups(
        self,
        project: str,
        *,
        since: float | None = None,
        task: str | None = None,
        limit: int = 100,
    ) -> list[FailureGroup]:
        by: dict[str, list[FailureRecord]] = {}
        for f in self._matching(project, since, task):
            by.setdefault(f.signature, []).append(f)
        groups = []
        for sig, items in by.items():
            latest = max(items, key=lambda f: (f.at, f.execution_id, f.node_id, f.attempt))
            groups.append(
                FailureGroup(
                    signature=sig,
                    type=latest.type,
                    pattern=latest.pattern,
                    frame=latest.frame,
                    count=len(items),
                    executions=len({f.execution_id for f in items}),
                    first_seen=min(f.at for f in items),
                    last_seen=latest.at,
                    tasks=sorted({f"{f.task}@{f.version}" for f in items}),
                    example=latest,
                )
            )
        groups.sort(key=lambda g: (-g.count, -g.last_seen, g.signature))
        return groups[:limit]

    def failures(
        self, project: str, signature: str, *, since: float | None = None, limit: int = 100
    ) -> list[FailureRecord]:
        found = self._matching(project, since, None, signature)
        found.sort(key=lambda f: (-f.at, f.execution_id, f.node_id, f.attempt))
        return found[:limit]
