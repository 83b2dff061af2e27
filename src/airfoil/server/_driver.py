"""The server's engine loop: driver slots that claim executions and drive them.

Each slot is a thread with its own :class:`~airfoil.engine.runner.Engine` and process executor
(so one execution's results never reach another's loop), or, with ``workers``, its own view of
one pool of workers shared by all the slots
(:class:`~airfoil.executors._process_shared.SharedProcessPool`: each view sees only its own
attempts, which are handed out round-robin over the slots). A free slot *claims* the oldest
unfinished execution whose lease is free or expired (one SQL statement with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL, see ``store.sql._server_queries``) and drives it
with ``Engine.drive``, which renews the lease every ``lease_ttl_s / 3``.

Invariants:

- An execution is driven by at most one slot of one server at a time (the lease). When a
  server dies, its leases expire and another server's slots claim and resume its executions:
  nodes that had succeeded are not re-run, attempts that were running are retried.
- The executor's ``poll`` is capped at a fraction of the lease TTL, so a long task never lets
  the lease lapse, and between polls the slot looks for a terminate request (a message of
  the store's control inbox, from any server process; every ``control_every_s``, the first
  time a period into the drive) or a shutdown.
- Shutdown stops every slot, kills their workers and releases their leases, so another server
  takes the executions over at once.
- A database outage never aborts an execution. The SQL store retries transient failures
  itself (``store.sql._retry``), so a blip only stalls a slot; when the store's retry budget
  runs out the slot *pauses* the execution: it keeps it (no abort, no release: the lease can
  only lapse, and no slot of this server claims it meanwhile), waits for the database with
  backoff and resumes driving it from the store. Only a permanent store error, or a bug,
  fails an execution, with the error in its reason.
- Slot threads never die: each turn is guarded, and a supervisor thread restarts a slot whose
  thread ended anyway. Restarts and pauses are counted (``airfoil_driver_restarts_total``,
  ``airfoil_driver_pauses_total``) and ``/readyz`` reports unready while a slot is down or
  the database is away.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec

from airfoil.core.backoff import doubling
from airfoil.core.errors import (
    ConflictError,
    StoreError,
    TransientStoreError,
    UnreadableRecordError,
)
from airfoil.core.launch_plans import LaunchPlanSpec
from airfoil.core.records import ExecutionRecord
from airfoil.engine.control import abort_and_cancel, fail_unreadable, requested_stop
from airfoil.engine.launch_plans import Poster
from airfoil.engine.runner import Engine, EngineSettings
from airfoil.engine.state import RunState
from airfoil.executors.base import AttemptResult, DelegatingExecutor, Executor
from airfoil.local import Runtime
from airfoil.runtime._packages import PACKAGE_PREFIX

if TYPE_CHECKING:
    from airfoil.executors._process_shared import SharedProcessPool

__all__ = ["Driver"]

log = logging.getLogger("airfoil.server")

#: A slot's default ``result_linger_s`` (docs/dev/performance-log.md, "Fewer commits per task").
RESULT_LINGER_S = 0.002


#: The longest wait after failed turns (a slot retries at least this often).
FAILED_TURN_WAIT_MAX_S = 5.0


def failed_turn_wait_s(idle_poll_s: float, failures: int) -> float:
    """How long a slot waits after ``failures`` failed turns in a row: doubling from the
    idle poll up to :data:`FAILED_TURN_WAIT_MAX_S`, for any count (a store away for hours
    fails thousands of turns; an overflow there ended the slot's thread)."""
    return doubling(idle_poll_s, failures, FAILED_TURN_WAIT_MAX_S)


class _Interrupt(Exception):
    """Raised out of a drive between polls: terminate (``reason``) or shutdown (None)."""

    def __init__(self, reason: str | None) -> None:
        self.reason = reason
        super().__init__(reason or "shutdown")


class _SlotExecutor(DelegatingExecutor):
    """The slot's process executor, with capped polls and control checks between them."""

    def __init__(self, slot: _Slot, inner: Executor) -> None:
        super().__init__(inner)
        self.slot = slot

    def poll(self, timeout: float | None) -> list[AttemptResult]:
        self.slot.check_control()
        cap = self.slot.driver.poll_cap_s
        return self.inner.poll(cap if timeout is None else min(timeout, cap))


class _Slot:
    """One driver thread."""

    def __init__(self, driver: Driver, index: int) -> None:
        self.driver = driver
        self.index = index
        self.current: str | None = None
        self._next_control = 0.0
        self._executor: _SlotExecutor | None = None
        self._engine: Engine | None = None
        self._project: tuple[str, str] | None = None
        self._empty = 0  # claims in a row that found nothing
        #: Set once the slot has started its workers (or failed to: it starts them lazily).
        self.warmed = threading.Event()
        self.thread = threading.Thread(
            target=self._run, name=f"airfoil-driver-{index}", daemon=True
        )

    def project_of(self, execution_id: str) -> str:
        """The project of the execution being driven (read once per execution)."""
        if self._project is None or self._project[0] != execution_id:
            self._project = (execution_id, self.driver.meta.get_execution(execution_id).project)
        return self._project[1]

    def secret(self, name: str) -> str | None:
        """The engine's secret source: the secrets of the driven execution's project."""
        if self.current is None:
            return None
        source = self.driver.runtime.stores.secrets
        return source.get_many(self.project_of(self.current), (name,)).get(name)

    def engine(self) -> Engine:
        """The slot's engine over the server's runtime, with the slot's own executor (so one
        execution's results never reach another's loop); map items are committed to the
        store, never journaled on this host's disk (another server may take an execution
        over)."""
        if self._engine is None:
            d = self.driver
            self._executor = _SlotExecutor(self, d.make_executor())
            self._engine = d.runtime.engine(
                self._executor,
                d.on_change,
                settings=EngineSettings(
                    lease_ttl_s=d.lease_ttl_s,
                    max_parallel=d.max_parallel,
                    result_linger_s=d.result_linger_s,
                    cache_scopes_declared_only=True,  # an admin declares a shared scope
                ),
                secrets=self.secret,
            )
        return self._engine

    def reset(self) -> None:
        """Drop the executor (killing its workers) and the engine; fresh ones come next."""
        if self._executor is not None:
            try:
                self._executor.close()
            except Exception:  # pragma: no cover - best effort
                log.exception("closing a slot executor failed")
        self._executor = None
        self._engine = None

    def check_control(self) -> None:
        d = self.driver
        if d.stopping.is_set():
            raise _Interrupt(None)
        now = time.monotonic()
        if self.current is None or now < self._next_control:
            return
        self._next_control = now + d.control_every_s
        try:
            reason = requested_stop(d.meta, self.current)
        except StoreError as exc:  # the database is away: look again next time
            log.warning("reading control requests of %s failed: %s", self.current, exc)
            return
        if reason is not None:
            raise _Interrupt(reason)

    def warm(self) -> None:
        """Build the slot's engine and start its executor's workers before its first claim,
        so the first executions a fresh server drives do not pay for the forkserver's
        imports and the workers' starts (~0.45 s of CPU for 4 slots of 2 workers: a cold
        round ran 15-20% slower than the next ones). One slot at a time (``warm_lock``): the
        first starts the forkserver, the others fork from it. Building the engine fails like a
        turn (counted, retried by the next turn); workers that fail to start are logged and
        start with the slot's first attempts instead, as before."""
        d = self.driver
        try:
            with d.warm_lock:
                if d.stopping.is_set() or not d.warm:
                    return
                self.engine()
                d.runtime.types  # noqa: B018 - built on first use: its converters' imports
                assert self._executor is not None
                try:
                    self._executor.warm()
                except Exception:
                    log.exception("starting the workers of driver slot %d failed", self.index)
        finally:
            self.warmed.set()

    def _run(self) -> None:
        d = self.driver
        failures = 0
        while not d.stopping.is_set():
            try:
                if not self.warmed.is_set():
                    self.warm()
                self._turn()
                failures = 0
            except Exception:  # a bug in a turn must not end the slot
                failures += 1
                log.exception("driver slot %d failed; it carries on", self.index)
                d.count_restart("error")
                self.current = None
                self.reset()
                d.wake.wait(failed_turn_wait_s(d.idle_poll_s, failures))
        self.reset()

    def _turn(self) -> None:
        """Claim one execution and drive it (or wait a little if there is none)."""
        d = self.driver
        try:
            engine = self.engine()
            claimed_at = d.clock.now()
            exec_id = d.claim(engine.owner, claimed_at)
        except StoreError as exc:
            log.warning("claiming an execution failed: %s", exc)
            d.wake.wait(d.idle_poll_s)
            return
        if exec_id is None:
            self._empty += 1
            d.wake.wait(d.idle_wait(self.index, self._empty))
            d.wake.clear()
            return
        if self._empty:  # work after a pause: more may wait, that backed-off slots find now
            d.wake.set()
        self._empty = 0
        self.current = exec_id
        # The first read of its control inbox a period in, as a local drive's
        # (``TerminateWatch``): most drives on a busy server are shorter and read none. A
        # request is only there when a driver held the lease as it was sent.
        self._next_control = time.monotonic() + d.control_every_s
        try:
            # the claim took the lease: the drive does not take it again (a resume does)
            paused = self._drive(engine, exec_id, claimed_at)
            while paused and not d.stopping.is_set():
                engine = self.engine()  # paused through an outage: resume the execution
                paused = self._drive(engine, exec_id, None)
        finally:
            self.current = None

    def _drive(self, engine: Engine, exec_id: str, claimed_at: float | None) -> bool:
        """Drive ``exec_id`` (``claimed_at``: see ``launcher.take_lease``); True if it was
        paused by a database outage (drive it again)."""
        d = self.driver
        try:
            record = engine.drive(exec_id, claimed_at=claimed_at)
            d.drives_ended += 1
            d.send_notifications(record)
        except _Interrupt as stop:
            if stop.reason is None:  # shutdown: the lease was released by drive
                self.reset()
                return False
            self._terminate(engine, exec_id, stop.reason)
        except ConflictError as exc:
            log.warning("lost execution %s: %s", exec_id, exc)
            self.reset()
        except TransientStoreError as exc:
            log.warning("database unavailable; execution %s paused: %s", exec_id, exc)
            d.count_pause()
            self.reset()  # its running attempts are retried when the drive resumes
            return self._wait_for_store(exec_id)
        except UnreadableRecordError as exc:  # the same bytes again: it can never load
            log.error("execution %s cannot be driven: %s", exec_id, exc)
            self.reset()
            try:
                d.send_notifications(fail_unreadable(self.engine(), exec_id, exc))
            except ConflictError as lost:  # another driver holds it now: its drive fails it
                log.warning("failing execution %s is left to its holder: %s", exec_id, lost)
            except Exception:  # its own record does not decode either: never claimed again
                log.exception("failing execution %s failed; it is left as stored", exec_id)
                d.undrivable.add(exec_id)
        except Exception as exc:
            log.exception("driving execution %s failed", exec_id)
            self.reset()
            self._terminate(self.engine(), exec_id, f"server error: {type(exc).__name__}: {exc}")
        return False

    def _wait_for_store(self, exec_id: str) -> bool:
        """Wait (with backoff) until the database answers; False if the server stops first
        or the execution is gone (then there is nothing to resume)."""
        d = self.driver
        d.paused.add(exec_id)
        try:
            wait = d.idle_poll_s
            while not d.stopping.is_set():
                try:
                    d.meta.get_lease(exec_id)
                    return True
                except TransientStoreError:
                    pass
                except StoreError as exc:
                    log.error("execution %s cannot be resumed: %s", exec_id, exc)
                    return False
                d.stopping.wait(wait * (0.5 + random.random() / 2))
                wait = min(5.0, wait * 2)
            return False
        finally:
            d.paused.discard(exec_id)

    def _terminate(self, engine: Engine, exec_id: str, reason: str) -> None:
        try:
            assert self._executor is not None  # the engine driving it runs over it
            self.driver.send_notifications(
                abort_and_cancel(engine, self._executor, exec_id, reason)
            )
        except Exception:
            log.exception("aborting execution %s failed", exec_id)


class Driver:
    """The slots of one server process.

    Args:
        runtime: the server's runtime: its stores (the registry holds the launch plans
            whose notifications are sent, the secrets are handed to attempts), clock,
            executors (each slot gets a new ``process`` executor from the registry, wrapped
            for the runtime's hooks) and resource queue (every slot admits through it, so
            the executions the slots drive share the machine fairly).
        slots: executions driven at once.
        max_parallel: attempts at once per execution (worker processes per slot).
        lease_ttl_s: how long a lease holds without renewal; a dead server's executions are
            taken over within about this long.
        make_executor: builds one slot's executor (default: the runtime's ``process`` one).
        on_change: called after each state write (metrics).
        poster: the webhook sender of launch-plan notifications (tests substitute it).
        on_restart: called with the reason (``"error"``: a turn failed, ``"died"``: the
            thread ended and the supervisor started a new one) each time a slot restarts.
        on_pause: called each time a slot pauses an execution through a database outage.
        result_linger_s: how long a slot's loop waits, once an attempt's result is back,
            for its other attempts submitted in the same turn or later (see
            ``EngineSettings.result_linger_s``): their ends then share one transaction.
        warm: each slot starts its executor's workers before its first claim, and the
            driver is :meth:`alive` only once they all have (``_Slot.warm``). Off: workers
            start with the slots' first attempts.
        workers: worker processes shared by all the slots (one
            :class:`~airfoil.executors._process_shared.SharedProcessPool`, handing attempts
            out round-robin over the slots), on the ``process`` executor; then ``slots``
            bounds only the executions driven at once, not the workers. None: each slot has
            its own executor of ``max_parallel`` workers (and so does any other executor).
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        slots: int = 4,
        max_parallel: int | None = None,
        lease_ttl_s: float = 5.0,
        make_executor: Callable[[], Executor] | None = None,
        on_change: Callable[[RunState], None] | None = None,
        poster: Poster | None = None,
        on_restart: Callable[[str], None] | None = None,
        on_pause: Callable[[], None] | None = None,
        result_linger_s: float = RESULT_LINGER_S,
        warm: bool = False,
        workers: int | None = None,
    ) -> None:
        self.runtime = runtime
        self.workers = workers
        self._pool: SharedProcessPool | None = None
        self._pool_lock = threading.Lock()
        self.warm = warm
        self.result_linger_s = result_linger_s
        self.meta = runtime.meta
        self.poster = poster
        self.clock = runtime.clock
        self.slots_n = max(1, slots)
        self.max_parallel = max_parallel
        self.lease_ttl_s = lease_ttl_s
        self.poll_cap_s = min(0.25, lease_ttl_s / 4)
        self.control_every_s = 0.25
        self.idle_poll_s = min(0.5, lease_ttl_s / 4)
        #: The longest an idle slot but the first waits between claims (see idle_wait).
        self.idle_poll_cap_s = max(self.idle_poll_s, min(2.0, lease_ttl_s / 2))
        self.supervise_every_s = 1.0
        self.on_change = on_change
        self._make_executor = make_executor
        self.on_restart = on_restart
        self.on_pause = on_pause
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.slots: list[_Slot] = []
        #: Executions paused through a database outage (claimed by nobody meanwhile).
        self.paused: set[str] = set()
        #: Executions whose stored record does not decode, so they could not even be failed
        #: (``fail_unreadable``): never claimed again by this process.
        self.undrivable: set[str] = set()
        #: Drives that ended (an execution finished, stopped or handed back), all slots.
        self.drives_ended = 0
        self._supervisor: threading.Thread | None = None
        #: One slot starts its workers at a time (see ``_Slot.warm``).
        self.warm_lock = threading.Lock()

    def make_executor(self) -> Executor:
        """One slot's executor (reporting its attempts to the runtime's hooks, if any)."""
        if self._make_executor is not None:
            return self.runtime.hooked(self._make_executor())
        if self.workers:
            pool = self.shared_pool()
            if pool is not None:
                return self.runtime.hooked(pool.client())
        # Workers rebuild the server's type engine: the converters it was configured with.
        return self.runtime.new_executor()  # the server's executor, wrapped by the runtime

    def shared_pool(self) -> SharedProcessPool | None:
        """The slots' shared worker pool (built on first use), or None where the runtime's
        executor is not the process one (each slot keeps its own then)."""
        from airfoil.executors._process_shared import SharedProcessPool
        from airfoil.executors.process import ProcessExecutor

        with self._pool_lock:
            if self._pool is None and not self.stopping.is_set():
                inner = self.runtime.new_executor(max_parallel=self.workers, hooked=False)
                if not isinstance(inner, ProcessExecutor):
                    inner.close()
                    self.workers = None
                    return None
                self._pool = SharedProcessPool(inner)
            return self._pool

    def idle_wait(self, index: int, empty: int) -> float:
        """How long slot ``index`` waits after ``empty`` claims in a row found nothing (a
        launch here wakes every slot at once: ``notify``). The first slot claims every
        :attr:`idle_poll_s` (what nobody wakes a slot for, e.g. executions of a replica
        that died, is found as soon as before); the others back off, doubling to
        :attr:`idle_poll_cap_s`, and look again when the first finds work. An idle
        server's claims: from 8 a second (4 slots) to ~3.5."""
        if index == 0:
            return self.idle_poll_s
        return min(self.idle_poll_cap_s, self.idle_poll_s * 2.0 ** min(empty - 1, 8))

    def claim(self, owner: str, now: float | None = None) -> str | None:
        """Take the lease of one server execution (of a registered package) that nobody
        drives, at ``now`` (default: the clock's), or return None. Local runs sharing the
        database are left alone."""
        now = self.clock.now() if now is None else now
        # Never an execution a slot of this server holds (driving, or paused by an outage
        # during which its lease may have lapsed).
        exclude = set(self.busy()) | self.paused | self.undrivable
        got = self.meta.claim_execution(
            owner, now, self.lease_ttl_s, code_root_prefix=PACKAGE_PREFIX, exclude=exclude
        )
        # ... nor one a slot took after ``exclude`` was read: two slots woken at once claim
        # side by side, and the other's drive may have let the lease go before this claim
        # reached the store (an undrivable execution's drive fails at once): given back.
        if got is not None and (got in self.busy() or got in self.paused | self.undrivable):
            self.meta.release_lease(got, owner)
            return None
        return got

    def send_notifications(self, record: ExecutionRecord) -> None:
        """An execution of a launch plan ended here: send the plan's notifications (the
        version it was launched from, or the schedule that fired it). Never raises."""
        name = record.labels.get("launch_plan")
        if not name or record.phase not in ("succeeded", "failed", "aborted"):
            return
        from airfoil.engine.launch_plans import anomaly_finder, notify

        spec: LaunchPlanSpec
        try:
            version = record.labels.get("launch_plan_version")
            if version:
                row = self.runtime.registry.get_launch_plan(record.project, name, version)
                spec = msgspec.json.decode(row.spec, type=LaunchPlanSpec)
            else:  # fired by a schedule: the plan as the schedule holds it
                schedules = self.runtime.stores.schedules
                spec = schedules.get_schedule(
                    name, project=record.project, domain=record.domain
                ).spec
            rule = self.runtime.settings
            found = anomaly_finder(
                self.meta,
                record.id,
                k=rule.anomaly_k,
                min_history=rule.anomaly_min_history,
                last=rule.history_runs,
            )
            notify(spec, record, poster=self.poster, anomalies=found)
        except Exception:  # a notification must never disturb the driver
            log.exception("notifications of execution %s failed", record.id)

    def busy(self) -> list[str]:
        """Executions being driven now."""
        return [s.current for s in self.slots if s.current is not None]

    def count_restart(self, reason: str) -> None:
        if self.on_restart is not None:
            self.on_restart(reason)

    def count_pause(self) -> None:
        if self.on_pause is not None:
            self.on_pause()

    def alive(self) -> bool:
        """Whether every slot's thread runs (the supervisor restarts one that died) and has
        started its workers (``_Slot.warm``): a server says it is ready only then."""
        return not self.stopping.is_set() and all(
            s.thread.is_alive() and s.warmed.is_set() for s in self.slots
        )

    def start(self) -> None:
        self.slots = [_Slot(self, i) for i in range(self.slots_n)]
        for s in self.slots:
            s.thread.start()
        self._supervisor = threading.Thread(
            target=self._supervise, name="airfoil-driver-supervisor", daemon=True
        )
        self._supervisor.start()

    def starting(self) -> bool:
        """Whether a slot is still starting its workers (``_Slot.warm``): not ready yet."""
        return not self.stopping.is_set() and any(
            s.thread.is_alive() and not s.warmed.is_set() for s in self.slots
        )

    def _supervise(self) -> None:
        """Restart any slot whose thread ended (it never should: each turn is guarded)."""
        while not self.stopping.wait(self.supervise_every_s):
            for i, slot in enumerate(self.slots):
                if slot.thread.is_alive() or self.stopping.is_set():
                    continue
                log.error("driver slot %d died; starting a new one", slot.index)
                try:
                    slot.reset()
                except Exception:  # pragma: no cover - best effort
                    log.exception("cleaning up dead slot %d failed", slot.index)
                fresh = _Slot(self, slot.index)
                self.slots[i] = fresh
                fresh.thread.start()
                self.count_restart("died")

    def notify(self) -> None:
        """Wake idle slots (an execution was launched)."""
        self.wake.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop every slot, release its lease and stop its workers."""
        self.stopping.set()
        self.wake.set()
        deadline = time.monotonic() + timeout_s
        for s in self.slots:
            s.thread.join(max(0.0, deadline - time.monotonic()))
        if self._supervisor is not None:
            self._supervisor.join(max(0.0, deadline - time.monotonic()))
        with self._pool_lock:
            if self._pool is not None:
                self._pool.close()
