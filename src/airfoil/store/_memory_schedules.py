"""The in-memory :class:`ScheduleStore`: the reference behaviour, mixed into
:class:`~airfoil.store.memory.MemoryMetaStore`.

Invariants: rows are kept as msgspec JSON and decoded on read (no shared mutable state with
callers); every method holds the store's one lock (``self._lock`` of the host store), so the
compare-and-set of :meth:`claim_schedule_fire` is atomic across threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from airfoil.core.errors import ConfigError
from airfoil.core.lazy_json import LazyDecoder
from airfoil.core.records import encode_json
from airfoil.store._schedules import (
    ScheduleRecord,
    ScheduleStore,
    schedule_not_found,
    select_schedules,
)

__all__ = ["MemoryScheduleStore"]

_RECORD = LazyDecoder(ScheduleRecord)
_Key = tuple[str, str, str]


class MemoryScheduleStore(ScheduleStore):
    """Schedules in a dict under the host store's lock."""

    _lock: threading.Lock

    def _rows(self) -> dict[_Key, bytes]:
        """The rows (created on first use); call with ``self._lock`` held."""
        rows: dict[_Key, bytes] | None = self.__dict__.get("_schedule_rows")
        if rows is None:
            rows = self.__dict__["_schedule_rows"] = {}
        return rows

    def put_schedule(self, record: ScheduleRecord) -> None:
        data = encode_json(record)
        with self._lock:
            self._rows()[(record.project, record.domain, record.name)] = data

    def get_schedule(
        self, name: str, *, project: str = "default", domain: str = "development"
    ) -> ScheduleRecord:
        with self._lock:
            data = self._rows().get((project, domain, name))
        if data is None:
            raise schedule_not_found(name, project, domain)
        return _RECORD.decode(data)

    def list_schedules(
        self,
        *,
        project: str | None = None,
        domain: str | None = None,
        active: bool | None = None,
    ) -> list[ScheduleRecord]:
        with self._lock:
            items = sorted(self._rows().items())
        records = [_RECORD.decode(data) for _, data in items]
        return select_schedules(records, project, domain, active)

    def due_schedules(self, now: float, limit: int = 100) -> list[ScheduleRecord]:
        if limit < 0:
            raise ConfigError(f"invalid limit {limit}: must be >= 0")
        with self._lock:
            records = [_RECORD.decode(data) for data in self._rows().values()]
        due = [
            r for r in records if r.active and r.next_fire_at is not None and r.next_fire_at <= now
        ]
        due.sort(key=lambda r: (r.next_fire_at, r.project, r.domain, r.name))
        return due[:limit]

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
        key = (project, domain, name)
        with self._lock:
            data = self._rows().get(key)
            if data is None:
                raise schedule_not_found(name, project, domain)
            record = _RECORD.decode(data)
            record.active = active
            record.next_fire_at = next_fire_at if active else None
            record.updated_at = now
            self._rows()[key] = encode_json(record)
        return record

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
        return self._fired(
            (project, domain, name),
            lambda r: r.active and r.next_fire_at == expected_at,
            expected_at,
            execution_id,
            now,
            next_at=next_at,
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
        return self._fired(
            (project, domain, name),
            lambda r: r.last_fired_at is None or r.last_fired_at < fired_at,
            fired_at,
            execution_id,
            now,
        )

    def _fired(
        self,
        key: tuple[str, str, str],
        allowed: Callable[[ScheduleRecord], bool],
        fired_at: float,
        execution_id: str,
        now: float,
        *,
        next_at: float | None = None,
    ) -> bool:
        """Record a firing on the row if ``allowed`` (and move its next instant to
        ``next_at`` when given); whether it did."""
        with self._lock:
            data = self._rows().get(key)
            if data is None:
                return False
            record = _RECORD.decode(data)
            if not allowed(record):
                return False
            if next_at is not None:
                record.next_fire_at = next_at
            record.last_fired_at = fired_at
            record.last_execution_id = execution_id
            record.updated_at = now
            self._rows()[key] = encode_json(record)
            return True

    def delete_schedule(
        self, name: str, *, project: str = "default", domain: str = "development"
    ) -> bool:
        with self._lock:
            return self._rows().pop((project, domain, name), None) is not None
