"""The in-memory :class:`SchedulingStore`: the reference behaviour, mixed into
:class:`~airfoil.store.memory.MemoryMetaStore`.

Invariants: rows are kept as msgspec JSON and decoded on read (no shared mutable state with
callers); every method holds the host store's one lock (``self._lock``).
"""

from __future__ import annotations

import threading
from typing import Any

from airfoil.core.errors import ConfigError
from airfoil.core.lazy_json import LazyDecoder
from airfoil.core.records import encode_json
from airfoil.store._scheduling import ProjectQuota, QueueSnapshot, SchedulingStore

__all__ = ["MemorySchedulingStore"]

_QUOTA = LazyDecoder(ProjectQuota)
_SNAPSHOT = LazyDecoder(QueueSnapshot)


class MemorySchedulingStore(SchedulingStore):
    """Quotas, snapshots and run times in dicts under the host store's lock."""

    _lock: threading.Lock

    def _table(self, name: str) -> dict[Any, Any]:
        """One table (created on first use); call with ``self._lock`` held."""
        key = f"_scheduling_{name}"
        rows: dict[Any, Any] | None = self.__dict__.get(key)
        if rows is None:
            rows = self.__dict__[key] = {}
        return rows

    def put_quota(self, quota: ProjectQuota) -> None:
        data = encode_json(quota)
        with self._lock:
            self._table("quotas")[quota.project] = data

    def get_quota(self, project: str) -> ProjectQuota | None:
        with self._lock:
            data = self._table("quotas").get(project)
        return None if data is None else _QUOTA.decode(data)

    def list_quotas(self) -> list[ProjectQuota]:
        with self._lock:
            items = sorted(self._table("quotas").items())
        return [_QUOTA.decode(data) for _, data in items]

    def delete_quota(self, project: str) -> bool:
        with self._lock:
            return self._table("quotas").pop(project, None) is not None

    def put_queue_snapshot(self, snapshot: QueueSnapshot) -> None:
        data = encode_json(snapshot)
        with self._lock:
            self._table("snapshots")[snapshot.owner] = data

    def list_queue_snapshots(self) -> list[QueueSnapshot]:
        with self._lock:
            items = sorted(self._table("snapshots").items())
        return [_SNAPSHOT.decode(data) for _, data in items]

    def delete_queue_snapshot(self, owner: str) -> None:
        with self._lock:
            self._table("snapshots").pop(owner, None)

    def record_task_runtime(
        self,
        task: str,
        *,
        execution_id: str,
        node_id: str,
        attempt: int,
        duration: float,
        ended_at: float,
    ) -> None:
        with self._lock:
            self._table("runtimes")[(execution_id, node_id, attempt)] = (task, ended_at, duration)

    def task_runtimes(self, task: str, limit: int = 20) -> list[float]:
        if limit < 0:
            raise ConfigError(f"invalid limit {limit}: must be >= 0")
        with self._lock:
            rows = [
                (ended, key, duration)
                for key, (name, ended, duration) in self._table("runtimes").items()
                if name == task
            ]
        rows.sort(reverse=True)
        return [float(duration) for _, _, duration in rows[:limit]]
