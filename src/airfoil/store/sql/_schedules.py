"""The SQL :class:`ScheduleStore`, mixed into :class:`~airfoil.store.sql.SqlMetaStore`.

Invariants:

- The launch plan spec is stored as msgspec JSON text in ``spec`` and never changes while a
  schedule fires; the loop's state (``active``, ``next_fire_at``, ``last_*``) lives in plain
  columns.
- :meth:`SqlScheduleStore.claim_schedule_fire` is one conditional ``UPDATE ... WHERE
  next_fire_at = :expected AND active`` inside the store's write transaction: SQLite
  serialises writers (``BEGIN IMMEDIATE``) and PostgreSQL re-checks the ``WHERE`` on the
  locked row, so of several loops exactly one sees ``rowcount == 1``.
"""

from __future__ import annotations

from typing import Any

from airfoil.core.errors import ConfigError
from airfoil.core.launch_plans import LaunchPlanSpec
from airfoil.core.lazy_json import LazyDecoder
from airfoil.core.records import encode_json
from airfoil.store._schedules import (
    ScheduleRecord,
    ScheduleStore,
    schedule_not_found,
    select_schedules,
)
from airfoil.store.sql._host import SqlHost
from airfoil.store.sql._sql_text import SCHEDULE_COLUMNS

__all__ = ["SqlScheduleStore"]

_SPEC = LazyDecoder(LaunchPlanSpec)


class SqlScheduleStore(SqlHost, ScheduleStore):
    """Schedules in the ``schedules`` table of the host :class:`SqlMetaStore`."""

    def put_schedule(self, record: ScheduleRecord) -> None:
        row = _row(record)
        self._transaction(
            "writing a schedule", lambda cur: cur.execute(self._s.schedule_upsert, row)
        )

    def get_schedule(
        self, name: str, *, project: str = "default", domain: str = "development"
    ) -> ScheduleRecord:
        params = {"project": project, "domain": domain, "name": name}
        rows = self._read(self._s.schedule_get, params, "reading a schedule")
        if not rows:
            raise schedule_not_found(name, project, domain)
        return _record(rows[0])

    def list_schedules(
        self,
        *,
        project: str | None = None,
        domain: str | None = None,
        active: bool | None = None,
    ) -> list[ScheduleRecord]:
        rows = self._read(self._s.schedule_list_all, {}, "listing schedules")
        records = [_record(r) for r in rows]
        return select_schedules(records, project, domain, active)

    def due_schedules(self, now: float, limit: int = 100) -> list[ScheduleRecord]:
        if limit < 0:
            raise ConfigError(f"invalid limit {limit}: must be >= 0")
        params = {"now": now, "limit": limit, "offset": 0}
        return [
            _record(r) for r in self._read(self._s.schedule_due, params, "finding due schedules")
        ]

    def set_schedule_active(
        self,
        name: str,
        *,
        active: bool,
        next_fire_at: float | None,
        now: float,
        project: str = "default",
        domain: str = "development",
    ) -> ScheduleRecord:
        params = {
            "project": project,
            "domain": domain,
            "name": name,
            "active": active,
            "next": next_fire_at if active else None,
            "now": now,
        }

        def update(cur: Any) -> int:
            cur.execute(self._s.schedule_set_active, params)
            return int(cur.rowcount)

        if self._transaction("activating a schedule", update) != 1:
            raise schedule_not_found(name, project, domain)
        return self.get_schedule(name, project=project, domain=domain)

    def claim_schedule_fire(
        self,
        name: str,
        *,
        expected_at: float,
        next_at: float,
        execution_id: str,
        now: float,
        project: str = "default",
        domain: str = "development",
    ) -> bool:
        key = {"project": project, "domain": domain, "name": name}
        firing = {"expected": expected_at, "expected_set": expected_at, "next": next_at}
        return self._one_row(
            self._s.schedule_claim,
            {**key, **firing, "eid": execution_id, "now": now},
            "claiming a schedule firing",
        )

    def record_schedule_fire(
        self,
        name: str,
        *,
        fired_at: float,
        execution_id: str,
        now: float,
        project: str = "default",
        domain: str = "development",
    ) -> bool:
        key = {"project": project, "domain": domain, "name": name}
        return self._one_row(
            self._s.schedule_record_fire,
            {**key, "fired": fired_at, "fired_set": fired_at, "eid": execution_id, "now": now},
            "recording a schedule firing",
        )

    def delete_schedule(
        self, name: str, *, project: str = "default", domain: str = "development"
    ) -> bool:
        key = {"project": project, "domain": domain, "name": name}
        return self._one_row(self._s.schedule_delete, key, "deleting a schedule")

    def _one_row(self, statement: str, params: dict[str, Any], action: str) -> bool:
        """Run one conditional statement in a transaction; whether it matched a row."""

        def run(cur: Any) -> bool:
            cur.execute(statement, params)
            return int(cur.rowcount) == 1

        return bool(self._transaction(action, run))


def _row(r: ScheduleRecord) -> dict[str, Any]:
    return {
        "project": r.project,
        "domain": r.domain,
        "name": r.name,
        "active": r.active,
        "next_fire_at": r.next_fire_at if r.active else None,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "code_root": r.code_root,
        "executor": r.executor,
        "last_fired_at": r.last_fired_at,
        "last_execution_id": r.last_execution_id,
        "spec": encode_json(r.spec).decode(),
    }


def _record(row: Any) -> ScheduleRecord:
    values = dict(zip(SCHEDULE_COLUMNS, row, strict=True))
    return ScheduleRecord(
        name=str(values["name"]),
        spec=_SPEC.decode(values["spec"]),
        active=bool(values["active"]),
        next_fire_at=_opt_float(values["next_fire_at"]),
        created_at=float(values["created_at"]),
        updated_at=float(values["updated_at"]),
        project=str(values["project"]),
        domain=str(values["domain"]),
        code_root=str(values["code_root"]),
        executor=str(values["executor"]),
        last_fired_at=_opt_float(values["last_fired_at"]),
        last_execution_id=str(values["last_execution_id"]),
    )


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)
