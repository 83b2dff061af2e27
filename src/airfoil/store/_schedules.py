"""The schedule store: activated launch plans and when each fires next.

:class:`ScheduleStore` is a small abstract class that the metadata stores also inherit
(:class:`~airfoil.store.memory.MemoryMetaStore`, :class:`~airfoil.store.sql.SqlMetaStore`),
so a scheduler loop works on whatever store the engine uses. Backends pass the shared suite
in :mod:`airfoil.testing.schedule_conformance`.

Invariants every backend keeps:

- A schedule is keyed by ``(project, domain, name)``; ``put_schedule`` replaces the whole row.
- :meth:`ScheduleStore.claim_schedule_fire` is an atomic compare-and-set on
  ``next_fire_at``: of any number of loops (threads or processes) that claim the same instant,
  exactly one gets ``True``. This is what makes a schedule fire exactly once.
- A deactivated schedule has ``next_fire_at = None`` and is never due.
- Listings are ordered by ``(project, domain, name)``; due schedules by ``next_fire_at``,
  then key.
"""

from __future__ import annotations

import abc
from collections.abc import Callable

import msgspec

from airfoil.core.errors import NotFoundError
from airfoil.core.launch_plans import LaunchPlanSpec

__all__ = [
    "ScheduleRecord",
    "ScheduleStore",
    "activate_record",
    "schedule_not_found",
    "select_schedules",
]


class ScheduleRecord(msgspec.Struct, omit_defaults=True):
    """An activated (or deactivated) launch plan with a schedule, as the loop sees it.

    Attributes:
        name: the launch plan's name.
        spec: the launch plan (workflow spec, inputs, schedule, notifications), so the loop
            launches it without importing the user's file.
        active: whether the loop fires it.
        next_fire_at: the next instant it fires (epoch seconds); None when inactive.
        created_at / updated_at: when the row was first written / last changed.
        project / domain: where its executions are recorded.
        code_root: the directory the workflow's modules are imported from (recorded at
            activation, for executors that run the task code).
        executor: the executor to run it with (``""``: the runtime's default).
        last_fired_at: the last instant claimed by a loop.
        last_execution_id: the execution launched for ``last_fired_at``.
    """

    name: str
    spec: LaunchPlanSpec
    active: bool
    next_fire_at: float | None
    created_at: float
    updated_at: float
    project: str = "default"
    domain: str = "development"
    code_root: str = ""
    executor: str = ""
    last_fired_at: float | None = None
    last_execution_id: str = ""


class ScheduleStore(abc.ABC):
    """Activated launch plans and their next fire times."""

    @abc.abstractmethod
    def put_schedule(self, record: ScheduleRecord) -> None:
        """Insert or replace the schedule ``(record.project, record.domain, record.name)``."""

    @abc.abstractmethod
    def get_schedule(
        self, name: str, *, project: str = "default", domain: str = "development"
    ) -> ScheduleRecord:
        """One schedule. Raises NotFoundError if there is none with that key."""

    @abc.abstractmethod
    def list_schedules(
        self,
        *,
        project: str | None = None,
        domain: str | None = None,
        active: bool | None = None,
    ) -> list[ScheduleRecord]:
        """Schedules matching all given filters, ordered by ``(project, domain, name)``."""

    @abc.abstractmethod
    def due_schedules(self, now: float, limit: int = 100) -> list[ScheduleRecord]:
        """Active schedules with ``next_fire_at <= now``, oldest ``next_fire_at`` first (then
        by key); at most ``limit``. A negative limit is a ConfigError."""

    @abc.abstractmethod
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
        """Activate (with the next instant to fire) or deactivate (``next_fire_at`` is
        stored as None) a schedule; return the updated row. Raises NotFoundError."""

    @abc.abstractmethod
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
        """Atomically claim the firing at ``expected_at``.

        If the schedule is active and its ``next_fire_at`` equals ``expected_at``, set it to
        ``next_at``, record ``last_fired_at = expected_at`` and ``last_execution_id``, and
        return True; otherwise change nothing and return False (another loop claimed it, or
        it was deactivated or rescheduled). Unknown schedules return False.
        """

    @abc.abstractmethod
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
        """Record a firing launched outside the loop (a backfill) as the schedule's last one.

        If the schedule's ``last_fired_at`` is None or earlier than ``fired_at``, set it to
        ``fired_at`` and ``last_execution_id`` to ``execution_id`` and return True; otherwise
        (a later instant is recorded already, or there is no such schedule) change nothing
        and return False. ``next_fire_at`` and ``active`` are never changed, so this never
        races the loop's :meth:`claim_schedule_fire` into firing an instant twice.
        """

    @abc.abstractmethod
    def delete_schedule(
        self, name: str, *, project: str = "default", domain: str = "development"
    ) -> bool:
        """Remove a schedule; return whether it existed."""


def schedule_not_found(name: str, project: str, domain: str) -> NotFoundError:
    """The error of every backend for a schedule that is not there (with how to make it)."""
    return NotFoundError(
        f"no schedule {name!r} in {project}/{domain}: activate it with "
        "`airfoil schedules activate FILE NAME`"
    )


def select_schedules(
    records: list[ScheduleRecord],
    project: str | None,
    domain: str | None,
    active: bool | None,
) -> list[ScheduleRecord]:
    """The records matching every filter given (the filters of ``list_schedules``)."""
    return [
        r
        for r in records
        if (project is None or r.project == project)
        and (domain is None or r.domain == domain)
        and (active is None or r.active == active)
    ]


def activate_record(
    store: ScheduleStore,
    spec: LaunchPlanSpec,
    next_fire_at: Callable[[ScheduleRecord | None], float],
    *,
    now: float,
    project: str,
    domain: str,
    code_root: str,
    executor: str,
) -> ScheduleRecord:
    """Store ``spec`` as an active row and return it: the one write of every activation (a
    time schedule's or an artifact trigger's).

    ``next_fire_at`` gets the row as it was (None when there was none) and says when the new
    row is next due; the row keeps its creation time and its last firing.
    """
    try:
        old: ScheduleRecord | None = store.get_schedule(spec.name, project=project, domain=domain)
    except NotFoundError:
        old = None
    record = ScheduleRecord(
        name=spec.name,
        spec=spec,
        active=True,
        next_fire_at=next_fire_at(old),
        created_at=old.created_at if old else now,
        updated_at=now,
        project=project,
        domain=domain,
        code_root=code_root,
        executor=executor,
        last_fired_at=old.last_fired_at if old else None,
        last_execution_id=old.last_execution_id if old else "",
    )
    store.put_schedule(record)
    return record
