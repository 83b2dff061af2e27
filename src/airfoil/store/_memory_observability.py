"""The in-memory :class:`ObservabilityStore`, mixed into
:class:`~airfoil.store.memory.MemoryMetaStore`.

Invariants: series are kept as msgspec JSON (so a caller never shares a list with the store)
and decoded on read; every method holds the host store's one lock (``self._lock``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import msgspec

from airfoil.core.errors import NotFoundError
from airfoil.core.metrics import MetricSeries
from airfoil.core.records import encode_json
from airfoil.store._observability import ObservabilityStore

__all__ = ["MemoryObservabilityStore"]

_SERIES = msgspec.json.Decoder(MetricSeries)


class MemoryObservabilityStore(ObservabilityStore):
    """Metric series in a dict under the host store's lock."""

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
