"""The SQL :class:`SchedulingStore`, mixed into :class:`~airfoil.store.sql.SqlMetaStore`.

Quotas and queue snapshots are whole msgspec JSON records in ``record`` (replaced by one
upsert, so a reader never sees half of one); task run times are plain columns, indexed by
``(task, ended_at)`` so the newest durations of a task are one index range scan.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
import sqlalchemy as sa

from airfoil.core.errors import ConfigError
from airfoil.core.records import encode_json
from airfoil.store._scheduling import ProjectQuota, QueueSnapshot, SchedulingStore
from airfoil.store.sql import _schema as s

__all__ = ["SqlSchedulingStore"]

_T = TypeVar("_T")
_QUOTA = msgspec.json.Decoder(ProjectQuota)
_SNAPSHOT = msgspec.json.Decoder(QueueSnapshot)
_bp = sa.bindparam


class _Statements:
    """Compiled SQL strings of the scheduling tables for one dialect."""

    def __init__(self, statements: Any) -> None:
        q, qs, rt = s.project_quotas, s.queue_snapshots, s.task_runtimes
        compile_: Callable[[sa.ClauseElement], str] = statements._compile
        self.put_quota: str = statements._upsert(q, ("project", "record"), 1)
        self.get_quota = compile_(sa.select(q.c.record).where(q.c.project == _bp("project")))
        self.list_quotas = compile_(sa.select(q.c.record).order_by(q.c.project))
        self.delete_quota = compile_(sa.delete(q).where(q.c.project == _bp("project")))
        self.put_snapshot: str = statements._upsert(qs, ("owner", "updated_at", "record"), 1)
        self.list_snapshots = compile_(sa.select(qs.c.record).order_by(qs.c.owner))
        self.delete_snapshot = compile_(sa.delete(qs).where(qs.c.owner == _bp("owner")))
        self.put_runtime: str = statements._upsert(
            rt, ("execution_id", "node_id", "attempt", "task", "ended_at", "duration"), 3
        )
        self.runtimes = compile_(
            sa.select(rt.c.duration)
            .where(rt.c.task == _bp("task"))
            .order_by(rt.c.ended_at.desc(), rt.c.execution_id.desc(), rt.c.node_id.desc())
            .limit(_bp("limit", type_=sa.Integer))
            .offset(_bp("offset", type_=sa.Integer))
        )


class SqlSchedulingStore(SchedulingStore):
    """Scheduling tables of the host :class:`SqlMetaStore`."""

    # Provided by SqlMetaStore.
    _s: Any

    def _read(self, sql: str, params: dict[str, Any], action: str) -> list[Any]:
        raise NotImplementedError  # pragma: no cover - SqlMetaStore's

    def _transaction(self, action: str, body: Callable[[Any], _T]) -> _T:
        raise NotImplementedError  # pragma: no cover - SqlMetaStore's

    def _sch(self) -> _Statements:
        found: _Statements | None = self.__dict__.get("_scheduling_statements")
        if found is None:  # compiling twice in a race is harmless
            found = self.__dict__["_scheduling_statements"] = _Statements(self._s)
        return found

    def _run(self, action: str, sql: str, params: dict[str, Any]) -> int:
        def body(cur: Any) -> int:
            cur.execute(sql, params)
            return int(cur.rowcount)

        return self._transaction(action, body)

    def put_quota(self, quota: ProjectQuota) -> None:
        row = {"project": quota.project, "record": encode_json(quota).decode()}
        self._run("writing a quota", self._sch().put_quota, row)

    def get_quota(self, project: str) -> ProjectQuota | None:
        rows = self._read(self._sch().get_quota, {"project": project}, "reading a quota")
        return _QUOTA.decode(rows[0][0]) if rows else None

    def list_quotas(self) -> list[ProjectQuota]:
        rows = self._read(self._sch().list_quotas, {}, "listing quotas")
        return [_QUOTA.decode(r[0]) for r in rows]

    def delete_quota(self, project: str) -> bool:
        return self._run("deleting a quota", self._sch().delete_quota, {"project": project}) == 1

    def put_queue_snapshot(self, snapshot: QueueSnapshot) -> None:
        row = {
            "owner": snapshot.owner,
            "updated_at": snapshot.updated_at,
            "record": encode_json(snapshot).decode(),
        }
        self._run("writing the queue snapshot", self._sch().put_snapshot, row)

    def list_queue_snapshots(self) -> list[QueueSnapshot]:
        rows = self._read(self._sch().list_snapshots, {}, "reading the queue")
        return [_SNAPSHOT.decode(r[0]) for r in rows]

    def delete_queue_snapshot(self, owner: str) -> None:
        self._run("deleting a queue snapshot", self._sch().delete_snapshot, {"owner": owner})

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
        self._run("recording a task run time", self._sch().put_runtime, row)

    def task_runtimes(self, task: str, limit: int = 20) -> list[float]:
        if limit < 0:
            raise ConfigError(f"invalid limit {limit}: must be >= 0")
        rows = self._read(
            self._sch().runtimes,
            {"task": task, "limit": limit, "offset": 0},
            "reading task run times",
        )
        return [float(r[0]) for r in rows]
