"""The scheduler loop: fire due schedules exactly once, however many loops run.

``SchedulerLoop(runtime_or_engine, store, clock).run_once(now)`` fires every schedule whose
``next_fire_at`` has come; ``run_forever(stop_event)`` repeats that until the event is set.
It runs standalone (``airfoil scheduler``) and inside ``airfoil server``. Activation,
deactivation and backfills are plain functions on the same store.

How a firing happens, for a schedule due at instant ``t``:

1. claim it: ``store.claim_schedule_fire(expected_at=t, next_at=next(t))``, an atomic
   compare-and-set. Of several loops (threads, processes, servers) exactly one wins;
2. the winner launches the launch plan with the deterministic execution id
   :func:`~airfoil.engine.schedules.scheduled_execution_id` (plan, ``t``); an execution that
   already exists (a backfill launched it) is not launched again. An id another project's
   (or domain's) execution holds is passed over for the next of the plan's (:func:`firing_id`);
3. it drives the execution (in a background thread by default) and sends the plan's
   notifications when it ends.

Invariants:

- Every instant is claimed at most once, so it is launched at most once; a loop that dies
  between claim and launch loses that one instant (``airfoil schedules backfill`` launches
  it; the ids make that safe).
- A loop that was down catches up on the instants it missed, at most ``max_catch_up`` per
  schedule: the newest ones (one, the newest, for an ``overlap="skip"`` schedule). It skips
  the older ones, logging their range and the ``airfoil schedules backfill`` command that
  launches them.
- The loop never imports user code: it launches the stored spec; executors import the task
  modules from the ``code_root`` recorded at activation.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from airfoil.core.clock import Clock, SystemClock
from airfoil.core.errors import AirfoilError, ConfigError, ConflictError, NotFoundError
from airfoil.core.launch_plans import LaunchPlanSpec
from airfoil.core.phases import ExecutionPhase
from airfoil.engine._drive_support import holder_is_running
from airfoil.engine.artifact_triggers import TriggerFiring
from airfoil.engine.launch_plans import (
    Poster,
    drive_and_notify,
    kickoff_inputs,
    launch_launch_plan,
    launch_values,
    own_firing_id,
)
from airfoil.engine.runner import Engine
from airfoil.engine.schedules import (
    fire_times,
    newest_fire_times,
    next_fire_after,
    schedule_problem,
    scheduled_execution_id,
)
from airfoil.executors.base import Executor
from airfoil.store._schedules import ScheduleRecord, ScheduleStore, activate_record
from airfoil.store.artifacts import ArtifactStore, ArtifactVersion
from airfoil.store.base import MetaStore
from airfoil.types import TypeEngine

__all__ = [
    "Firing",
    "SchedulerLoop",
    "activate_schedule",
    "backfill",
    "deactivate_schedule",
    "launch_instant",
    "schedule_store",
]

log = logging.getLogger("airfoil.scheduler")

DriveMode = Literal["background", "inline", "none"]


@dataclass(frozen=True)
class Firing:
    """One instant of one schedule, as a loop or a backfill handled it.

    Attributes:
        name: the launch plan.
        instant: the scheduled instant (epoch seconds).
        execution_id: the deterministic id of its execution.
        launched: False when the execution already existed (nothing new was launched).
        error: why launching failed, if it did.
        skipped: the schedule's ``overlap`` is ``"skip"`` and the run of an earlier instant
            (``execution_id``) had not ended: nothing was launched.
    """

    name: str
    instant: float
    execution_id: str
    launched: bool
    error: str = ""
    skipped: bool = False


class EngineSource(Protocol):
    """What builds an engine per schedule (``airfoil.local.LocalRuntime``)."""

    @property
    def meta(self) -> MetaStore: ...

    @property
    def types(self) -> TypeEngine: ...

    def engine(self, executor: str | None = None) -> Engine: ...

    def new_executor(self, name: str | None = None) -> Executor: ...


class SchedulerLoop:
    """Fires due schedules of a store through an engine.

    Args:
        runtime_or_engine: a :class:`~airfoil.local.LocalRuntime` (each schedule runs
            on the executor recorded at activation, default the runtime's) or an
            :class:`Engine` (every schedule runs on it).
        store: the schedule store; default the runtime's (or engine's) metadata store.
        clock: where ``now`` comes from when ``run_once`` is given none.
        drive: ``"background"`` drives each launched execution in a worker thread,
            ``"inline"`` drives it before ``run_once`` returns, ``"none"`` leaves it queued
            (for a server whose engine workers pick queued executions up).
        max_catch_up: the most missed instants of one schedule fired in one pass: past
            it the oldest are skipped (logged) and the newest ``max_catch_up`` fired. An
            ``overlap="skip"`` schedule fires only its newest missed instant.
        max_drivers: how many executions on the inline executor are driven at once in the
            background (executions on a shared executor are driven one at a time).
        poll_s: the longest ``run_forever`` sleeps between passes.
        poster: the webhook sender (tests substitute it).
        leave: schedules for which this returns True are launched and left queued whatever
            ``drive`` says (a server's driver slots drive them and send their notifications).
        artifacts: the artifact store whose new versions fire triggered launch plans
            (:mod:`airfoil.engine.artifact_triggers`); None: triggers are not fired.
        on_left: called with the id of each execution this loop launched and left queued
            for others to drive (``leave``, or ``drive="none"``), by a schedule or a
            trigger: a server wakes its idle driver slots with it, as an API launch does.
    """

    def __init__(
        self,
        runtime_or_engine: EngineSource | Engine,
        store: ScheduleStore | MetaStore | None = None,
        clock: Clock | None = None,
        *,
        drive: DriveMode = "background",
        max_catch_up: int = 100,
        poll_s: float = 1.0,
        max_drivers: int = 4,
        poster: Poster | None = None,
        leave: Callable[[ScheduleRecord], bool] | None = None,
        artifacts: ArtifactStore | None = None,
        on_left: Callable[[str], None] | None = None,
    ) -> None:
        self._source = runtime_or_engine
        self._on_left = on_left
        self.artifacts = artifacts
        self.store = schedule_store(store if store is not None else runtime_or_engine.meta)
        self.clock: Clock = clock or SystemClock()
        self.drive = drive
        self.max_catch_up = max_catch_up
        self.poll_s = poll_s
        self.poster = poster
        self._max_drivers = max_drivers
        self._leave = leave
        self._pools: dict[bool, ThreadPoolExecutor] = {}
        self._futures: dict[str, Future[Any]] = {}  # by execution id: the drives going on
        self._lock = threading.Lock()

    # --- wiring ----------------------------------------------------------------------------

    def _engine(self, record: ScheduleRecord) -> Engine:
        if isinstance(self._source, Engine):
            return self._source
        engine: Engine = self._source.engine(record.executor or None)
        # Executions are recorded in the schedule's project and domain (a server's loop fires
        # the schedules of every project).
        engine.settings = replace(engine.settings, project=record.project, domain=record.domain)
        return engine

    def _types(self) -> TypeEngine:
        types = getattr(self._source, "types", None)
        if types is None:
            from airfoil.types import default_type_engine

            types = default_type_engine()
        return types

    # --- one pass --------------------------------------------------------------------------

    def run_once(self, now: float | None = None) -> list[Firing]:
        """Fire every instant that is due at ``now`` (default: the clock's), oldest first.

        Returns:
            the firings this loop claimed (an instant another loop claimed is not listed).
        """
        now = self.clock.now() if now is None else now
        fired: list[Firing] = []
        for record in self.store.due_schedules(now, limit=1000):
            fired.extend(self._fire_due(record, now))
        return fired

    def run_triggers(self, now: float | None = None) -> list[TriggerFiring]:
        """Launch the triggered plans once per artifact version added since the last pass
        (each version claimed by exactly one loop); nothing without an artifact store."""
        if self.artifacts is None:
            return []
        from airfoil.engine.artifact_triggers import fire_trigger

        now = self.clock.now() if now is None else now
        out: list[TriggerFiring] = []
        for record in self.store.list_schedules(active=True):
            if record.spec.trigger is not None:
                out.extend(
                    fire_trigger(
                        self.store,
                        self.artifacts,
                        record,
                        now,
                        self._on_version,
                        meta=self._source.meta,
                    )
                )
        return out

    def _on_version(
        self, record: ScheduleRecord, version: ArtifactVersion, eid: str | None
    ) -> TriggerFiring:
        from airfoil.engine.artifact_triggers import launch_version

        firing = launch_version(self._engine(record), self._types(), record, version, eid)
        ref = f"{version.name}:{version.version}"
        if firing.error:
            log.error("trigger %s on %s: %s", record.name, ref, firing.error)
        elif firing.launched:
            log.info("trigger %s fired for %s: execution %s", record.name, ref, firing.execution_id)
            self._drive(record, firing.execution_id)
        return firing

    def _fire_due(self, record: ScheduleRecord, now: float) -> list[Firing]:
        schedule = record.spec.schedule
        t = record.next_fire_at
        if schedule is None or t is None:
            return []
        problem = schedule_problem(schedule)
        if problem:  # stored before its rule tightened: paused, the other schedules fire
            self.store.set_schedule_active(
                record.name,
                active=False,
                next_fire_at=None,
                now=now,
                project=record.project,
                domain=record.domain,
            )
            log.error("schedule %s paused: it cannot fire: %s", record.name, problem)
            return [Firing(record.name, t, "", launched=False, error=f"paused: {problem}")]
        out: list[Firing] = []
        last = record.last_execution_id
        if t <= now:
            t = self._skip_oldest(record, t, now)
            if t is None:
                return out
        while t <= now:
            nxt = next_fire_after(schedule, t)
            going = self._still_going(record, last, now) if schedule.overlap == "skip" else None
            if going is not None:
                # the previous instant's run has not ended: claim this instant for it (its
                # id stays the schedule's last execution) and launch nothing
                if not self._claim(record, t, nxt, going, now):
                    break
                log.info(
                    "schedule %s at %s: skipped, the run of an earlier instant (%s) is still "
                    "going (overlap='skip')",
                    record.name,
                    _iso(t),
                    going,
                )
                out.append(Firing(record.name, t, going, launched=False, skipped=True))
                t = nxt
                continue
            try:
                eid = firing_id(self._source.meta, record, t)
            except ConflictError:
                eid = ""  # launch_instant says why: this instant fails, the loop goes on
            if not self._claim(record, t, nxt, eid, now):
                break  # another loop took it (or it was deactivated): it owns what follows
            out.append(self._launch(record, t, eid))
            last = eid
            t = nxt
        return out

    def _skip_oldest(self, record: ScheduleRecord, t: float, now: float) -> float | None:
        """Where catching up starts: ``t``, or past the oldest missed instants when more were
        missed than are fired in one pass -- ``max_catch_up``, or one for an
        ``overlap="skip"`` schedule, whose newest instant launches one run -- (the newest
        are fired, as a user who was away expects: the latest data first). None: another
        loop claimed ``t`` meanwhile.

        The instants passed over are claimed in one compare-and-set, so of several loops
        exactly one passes them; the schedule's last execution stays what it was (a
        ``skip`` schedule still waits for a run that goes on).
        """
        schedule = record.spec.schedule
        assert schedule is not None
        keep = min(1, self.max_catch_up) if schedule.overlap == "skip" else self.max_catch_up
        newest = newest_fire_times(schedule, t, now, count=keep + 1)
        if len(newest) <= keep:
            return t
        first_fired = newest[1] if keep else next_fire_after(schedule, now)
        if not self._claim(record, t, first_fired, record.last_execution_id, now):
            return None
        why = (
            "it catches up with one run (overlap='skip')"
            if keep < self.max_catch_up
            else f"more than {self.max_catch_up} instants were missed"
        )
        log.warning(
            "schedule %s: %s: skipped the oldest, from %s to %s, and fired the newest %d; "
            "launch the skipped ones with `airfoil schedules backfill %s --from %s --to %s`",
            record.name,
            why,
            _iso(t),
            _iso(newest[0]),
            keep,
            record.name,
            _iso(t),
            _iso(newest[0]),
        )
        return first_fired

    def _still_going(self, record: ScheduleRecord, execution_id: str, now: float) -> str | None:
        """``execution_id`` if that execution exists and goes on (None otherwise).

        A run this loop drives (not one left to a server's slots, which resume a run whose
        lease lapsed) that no process drives any more -- its lease released or lapsed: its
        scheduler was killed or stopped with Ctrl-C twice -- does not go on: nothing resumes
        it by itself, and a ``skip`` schedule waiting for it would never fire again. It is
        left as it is, and named. A queued run without a lease is taken to wait for its
        driver (a loop's busy pool, or another loop's).
        """
        if not execution_id:
            return None
        meta = self._source.meta
        try:
            head = meta.get_execution_head(execution_id)
        except NotFoundError:
            return None
        if ExecutionPhase(head.phase).terminal:
            return None
        left = self.drive == "none" or (self._leave is not None and self._leave(record))
        with self._lock:
            drive = self._futures.get(execution_id)
        if left or (drive is not None and not drive.done()):
            return execution_id
        lease = meta.get_lease(execution_id)
        if lease is None and head.phase == "queued":
            return execution_id  # launched, its driver (this loop's or another's) to come
        if lease is not None and (lease[1] >= now or holder_is_running(*lease) is not None):
            return execution_id  # driven (a holder alive past its lease still drives it)
        log.warning(
            "schedule %s: the run of an earlier instant (%s) was interrupted (no process "
            "drives it): firing the next instant; `airfoil executions resume %s` carries "
            "that run on",
            record.name,
            execution_id,
            execution_id,
        )
        return None

    def _claim(self, record: ScheduleRecord, t: float, nxt: float, eid: str, now: float) -> bool:
        return self.store.claim_schedule_fire(
            record.name,
            expected_at=t,
            next_at=nxt,
            execution_id=eid,
            now=now,
            project=record.project,
            domain=record.domain,
        )

    def _launch(self, record: ScheduleRecord, instant: float, eid: str) -> Firing:
        # The id claimed is the launch's (one read of the id's holder fewer); "" (every id
        # another project's) has the launch find out again, and say why.
        firing = launch_instant(self._engine(record), self._types(), record, instant, eid or None)
        if firing.error:
            log.error("schedule %s at %s: %s", record.name, _iso(instant), firing.error)
        elif not firing.launched:
            log.info("schedule %s at %s: %s exists already", record.name, _iso(instant), eid)
        else:
            log.info("schedule %s fired for %s: execution %s", record.name, _iso(instant), eid)
            self._drive(record, eid)
        return firing

    def _drive(self, record: ScheduleRecord, eid: str) -> None:
        if self.drive == "none" or (self._leave is not None and self._leave(record)):
            if self._on_left is not None:
                try:
                    self._on_left(eid)
                except Exception:  # a wake-up is a courtesy: the slots claim it anyway
                    log.exception("waking the drivers of execution %s failed", eid)
            return
        engine = self._engine(record)
        if self.drive == "inline":
            _drive_logged(engine, record.spec, eid, self.poster)
            return
        parallel = False
        if not isinstance(self._source, Engine) and engine.executor.name == "inline":
            # An executor hands its finished attempts to whoever polls it, so engines running
            # at once must not share one: each background drive gets its own inline executor
            # (cheap). Shared executors (a given engine, the process pool) drive one at a time.
            engine.executor = self._source.new_executor("inline")
            parallel = True
            _preload(engine.executor, record)
        with self._lock:
            pool = self._pools.get(parallel)
            if pool is None:
                pool = self._pools[parallel] = ThreadPoolExecutor(
                    self._max_drivers if parallel else 1, thread_name_prefix="airfoil-scheduled"
                )
            self._futures = {k: f for k, f in self._futures.items() if not f.done()}
            self._futures[eid] = pool.submit(_drive_logged, engine, record.spec, eid, self.poster)

    # --- running ---------------------------------------------------------------------------

    def run_forever(self, stop_event: threading.Event) -> None:
        """Run passes until ``stop_event`` is set, sleeping until the next instant is due
        (at most ``poll_s``, so newly activated schedules are seen). Errors of a pass are
        logged and the loop goes on."""
        log.info("scheduler started")
        while not stop_event.is_set():
            try:
                self.run_once()
                self.run_triggers()
            except AirfoilError as exc:
                log.error("scheduler pass failed: %s", exc)
            stop_event.wait(self.poll_s)
        log.info("scheduler stopping")

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the executions this loop is driving in the background to end."""
        with self._lock:
            futures = list(self._futures.values())
        for f in futures:
            f.result(timeout=timeout)

    def close(self, wait: bool = True) -> None:
        """Stop the background drivers (waiting for running executions if ``wait``)."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.shutdown(wait=wait, cancel_futures=not wait)


def firing_id(meta: MetaStore, record: ScheduleRecord, instant: float) -> str:
    """The id of ``record``'s firing at ``instant`` (its deterministic id, or the next where
    another project's execution holds it: :func:`own_firing_id`).

    Raises:
        ConflictError: every id it may take is another project's.
    """

    def ids(n: int) -> str:
        return scheduled_execution_id(
            record.name, instant, project=record.project, domain=record.domain, n=n
        )

    return own_firing_id(meta, ids, record.project, record.domain)


def launch_instant(
    engine: Engine,
    types: TypeEngine,
    record: ScheduleRecord,
    instant: float,
    eid: str | None = None,
) -> Firing:
    """Launch (without driving) the firing of ``record`` at ``instant``, with its
    deterministic id (``eid`` where the caller has found it already, as the claim did: see
    :func:`firing_id`); an existing execution of that id is left alone."""
    spec = record.spec
    if eid is None:
        try:
            eid = firing_id(engine.meta, record, instant)
        except ConflictError as exc:
            return Firing(record.name, instant, "", launched=False, error=str(exc))
    try:
        engine.meta.get_execution(eid)
        return Firing(record.name, instant, eid, launched=False)
    except NotFoundError:
        pass
    try:
        values = launch_values(
            spec, kickoff_inputs(spec, instant, types, engine.blobs), types, engine.blobs
        )
        launch_launch_plan(
            engine,
            spec,
            values,
            execution_id=eid,
            code_root=record.code_root,
            labels={"scheduled_at": _iso(instant)},
        )
    except ConflictError:
        return Firing(record.name, instant, eid, launched=False)
    except AirfoilError as exc:
        return Firing(record.name, instant, eid, launched=False, error=str(exc))
    return Firing(record.name, instant, eid, launched=True)


def _preload(executor: Executor, record: ScheduleRecord) -> None:
    """Import, in this thread, what inline drives import on first use: the plan's task
    modules. Two drive threads importing them at once could see a module half-initialised by
    the other (an ImportError in a task that is not the task's fault)."""
    from airfoil.engine.graph import flatten

    for node in flatten(record.spec.workflow).values():
        if node.task is not None:
            executor.preload(node.task, record.code_root)


def _drive_logged(engine: Engine, spec: LaunchPlanSpec, eid: str, poster: Poster | None) -> None:
    try:
        record = drive_and_notify(engine, spec, eid, poster=poster)
    except Exception:  # a background driver must not die silently
        log.exception("driving scheduled execution %s failed", eid)
        return
    log.info("scheduled execution %s of %s ended %s", eid, spec.name, record.phase)


# --- activation and backfills ----------------------------------------------------------------


def schedule_store(store: object) -> ScheduleStore:
    """``store`` as a :class:`ScheduleStore` (every Airfoil metadata store is one).

    Raises:
        ConfigError: the store keeps no schedules (a third-party MetaStore).
    """
    if not isinstance(store, ScheduleStore):
        raise ConfigError(f"the metadata store {store!r} does not keep schedules")
    return store


def activate_schedule(
    store: ScheduleStore | MetaStore,
    spec: LaunchPlanSpec,
    *,
    now: float,
    code_root: str = "",
    executor: str = "",
    project: str = "default",
    domain: str = "development",
) -> ScheduleRecord:
    """Store ``spec`` and make its schedule fire from ``now`` on.

    Re-activating an active schedule whose schedule did not change keeps its next instant
    (nothing due is skipped); otherwise the next instant is the first after ``now``.

    Raises:
        ConfigError: the plan has no schedule, or the schedule is invalid.
    """
    store = schedule_store(store)
    if spec.schedule is None:
        raise ConfigError(
            f"launch plan {spec.name!r} has no schedule: give it schedule=CronSchedule(...) "
            "or FixedRate(...) to activate it"
        )
    schedule = spec.schedule

    def next_at(old: ScheduleRecord | None) -> float:
        if (
            old is not None
            and old.active
            and old.spec.schedule == schedule  # unchanged
            and old.next_fire_at is not None
        ):
            return old.next_fire_at  # nothing due is skipped
        return next_fire_after(schedule, now)

    return activate_record(
        store,
        spec,
        next_at,
        now=now,
        project=project,
        domain=domain,
        code_root=code_root,
        executor=executor,
    )


def deactivate_schedule(
    store: ScheduleStore | MetaStore,
    name: str,
    *,
    now: float,
    project: str = "default",
    domain: str = "development",
) -> ScheduleRecord:
    """Stop a schedule from firing (its spec stays stored, for backfills and reactivation).

    Raises:
        NotFoundError: there is no such schedule.
    """
    return schedule_store(store).set_schedule_active(
        name, active=False, next_fire_at=None, now=now, project=project, domain=domain
    )


def backfill(
    loop_or_engine: Any,
    record: ScheduleRecord,
    start: float,
    end: float,
    *,
    drive: bool = True,
    poster: Poster | None = None,
) -> list[Firing]:
    """Launch one execution per instant of ``record``'s schedule in ``[start, end]``.

    Each gets the same deterministic id the loop would give it, so instants already launched
    (by the loop or an earlier backfill) are skipped: running a backfill twice launches
    nothing new. Executions are driven one after another when ``drive``. An instant later
    than the schedule's last firing becomes its last firing (``last_fired_at``,
    ``last_execution_id``: what ``airfoil schedules list`` shows), as the loop records its own.

    Raises:
        ConfigError: the plan has no schedule, or the range is empty, reversed or too large.
    """
    schedule = record.spec.schedule
    if schedule is None:
        raise ConfigError(f"launch plan {record.name!r} has no schedule to backfill")
    engine: Engine = (
        loop_or_engine
        if isinstance(loop_or_engine, Engine)
        else loop_or_engine.engine(record.executor or None)
    )
    if engine is not loop_or_engine:
        engine.settings = replace(engine.settings, project=record.project, domain=record.domain)
    types = getattr(loop_or_engine, "types", None)
    if types is None:
        from airfoil.types import default_type_engine

        types = default_type_engine()
    store = schedule_store(engine.meta)
    out: list[Firing] = []
    for instant in fire_times(schedule, start, end):
        firing = launch_instant(engine, types, record, instant)
        out.append(firing)
        if not firing.error:  # a no-op unless it is later than the last recorded firing
            store.record_schedule_fire(
                record.name,
                fired_at=instant,
                execution_id=firing.execution_id,
                now=engine.clock.now(),
                project=record.project,
                domain=record.domain,
            )
        if firing.launched and drive:
            drive_and_notify(engine, record.spec, firing.execution_id, poster=poster)
    return out


def _iso(instant: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(instant, tz=UTC).isoformat().replace("+00:00", "Z")
