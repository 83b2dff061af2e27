"""The SQL :class:`SchedulingStore`, mixed into :class:`~airfoil.store.sql.SqlMetaStore`.

Quotas and queue snapshots are whole msgspec JSON records in ``record`` (replaced by one
upsert, so a reader never sees half of one); task run times are plain columns, indexed by
``(task, ended_at)`` so the newest durations of a task are one index range scan.
"""

from __future__ import annotations

from typing import Any

from airfoil.core.errors import ConfigError
from airfoil.core.lazy_json import LazyDecoder
from airfoil.core.records import encode_json
from airfoil.store._scheduling import ProjectQuota, QueueSnapshot, SchedulingStore
from airfoil.store.sql._host import SqlHost

__all__ = ["SqlSchedulingStore"]

_QUOTA = LazyDecoder(ProjectQuota)
_SNAPSHOT = LazyDecoder(QueueSnapshot)


class SqlSchedulingStore(SqlHost, SchedulingStore):
    """Scheduling tables of the host :class:`SqlMetaStore`."""

    def _run(self, action: str, sql: str, params: dict[str, Any]) -> int:
        def body(cur: Any) -> int:
            cur.execute(sql, params)
            return int(cur.rowcount)

        return self._transaction(action, body)

    def put_quota(self, quota: ProjectQuota) -> None:
        row = {"project": quota.project, "record": encode_json(quota).decode()}
        self._run("writing a quota", self._s.quota_put, row)

    def get_quota(self, project: str) -> ProjectQuota | None:
        rows = self._read(self._s.quota_get, {"project": project}, "reading a quota")
        return _QUOTA.decode(rows[0][0]) if rows else None

    def list_quotas(self) -> list[ProjectQuota]:
        rows = self._read(self._s.quota_list, {}, "listing quotas")
        return [_QUOTA.decode(r[0]) for r in rows]

    def delete_quota(self, project: str) -> bool:
        return self._run("deleting a quota", self._s.quota_delete, {"project": project}) == 1

    def put_queue_snapshot(self, snapshot: QueueSnapshot) -> None:
        row = {
            "owner": snapshot.owner,
            "updated_at": snapshot.updated_at,
            "record": encode_json(snapshot).decode(),
        }
        self._run("writing the queue snapshot", self._s.snapshot_put, row)

    def list_queue_snapshots(self) -> list[QueueSnapshot]:
        rows = self._read(self._s.snapshot_list, {}, "reading the queue")
        return [_SNAPSHOT.decode(r[0]) for r in rows]

    def delete_queue_snapshot(self, owner: str) -> None:
        self._run("deleting a queue snapshot", self._s.snapshot_delete, {"owner": owner})

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
        row = {
            "execution_id": execution_id,
            "node_id": node_id,
            "attempt": attempt,
            "task": task,
            "ended_at": ended_at,
            "duration": duration,
        }
        self._run("recording a task run time", self._s.runtime_put, row)

    def task_runtimes(self, task: str, limit: int = 20) -> list[float]:
        if limit < 0:
            raise ConfigError(f"invalid limit {limit}: must be >= 0")
        rows = self._read(
            self._s.runtime_list,
            {"task": task, "limit": limit, "offset": 0},
            "reading task run times",
        )
        return [float(r[0]) for r in rows]
