"""The driver: with its loop (:mod:`airfoil.engine._loop`), the one place the engine does I/O.

``Engine.launch`` records a new execution; ``Engine.drive`` runs it to a terminal phase:

1. take the state machine's pending batch and commit it to the MetaStore;
2. carry out the commands (cache lookups, admission, submitting attempts, timers);
3. feed what came back (cache results, finished attempts, due timers) as events.

Because the batch is committed before any command is carried out, killing the process at
any instant loses nothing: ``drive`` on the same execution id (``airfoil executions resume``)
rebuilds the state from the store, marks attempts that were running as lost, and goes on
without re-running nodes that had succeeded.
"""

from __future__ import annotations

import contextlib
import logging
import math
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from airfoil.core.clock import Clock, SystemClock
from airfoil.core.errors import ConfigError
from airfoil.core.phases import ErrorKind, ExecutionPhase
from airfoil.core.records import (
    ErrorInfo,
    EventRecord,
    ExecutionRecord,
    StoreBatch,
    Value,
    WorkflowSpec,
)
from airfoil.engine import state as sm
from airfoil.engine._drive_support import (
    env_secret,
    process_owner,
    renew_reservations,
)
from airfoil.engine._group_commit import GroupCommit
from airfoil.engine._journal import ItemJournal, replay_batch
from airfoil.engine._lease import Heartbeat
from airfoil.engine._loop import DriveLoop, EngineBug
from airfoil.engine.graph import GraphCache
from airfoil.engine.launcher import Launcher, load_state, take_lease
from airfoil.executors.base import Executor
from airfoil.executors.hooks import Hooks
from airfoil.store.base import BlobStore, MetaStore
from airfoil.types import TypeEngine

if TYPE_CHECKING:
    from airfoil.engine._resources import AdmissionQueue

__all__ = ["Engine", "EngineSettings"]

log = logging.getLogger("airfoil.engine")


@dataclass
class EngineSettings:
    """Knobs of the driver loop."""

    lease_ttl_s: float = 30.0
    cache_wait_poll_s: float = 0.1
    signal_poll_s: float = 0.25
    #: A ``cache_serialize`` reservation lapses this long after its holder last renewed it
    #: (its drive renews it with its lease, every ``lease_ttl_s / 3``): a holder that runs
    #: for hours keeps it, one that was killed frees its waiters within this.
    cache_reservation_ttl_s: float = 120.0
    retry_backoff_s: float = 0.05
    #: The longest a drive with nothing running sleeps at once while it waits on a timer (a
    #: retry's backoff, up to 30 s; a gate's timeout, up to hours) before asking its
    #: executor again: the executor's poll is where a server's slot reads terminate requests
    #: and its own stop, and a local drive's ``TerminateWatch`` its ``executions abort``.
    control_poll_s: float = 0.5
    max_parallel: int | None = None
    #: Where a drive journals its batches (map items, a chained task's end and its
    #: successor's start) between store commits (see ``_journal`` and ``_group_commit``);
    #: empty: every batch is committed to the store (slower for big maps and long chains).
    journal_dir: str = ""
    journal_sync: bool = False
    #: Journaled records are committed to the store at the latest after this many of them
    #: or this many seconds (and with any batch that changes the execution or the cache):
    #: about the most a reader of the store (the console, ``airfoil executions show``,
    #: another process) lags behind a drive. A group a tenth of a second long already holds
    #: hundreds of trivial tasks: longer buys little and leaves readers further behind.
    journal_max_items: int = 1024
    journal_max_s: float = 0.1
    #: How often the per-phase counts of running maps are written (they are derived data).
    map_counts_every_s: float = 0.5
    #: Bounded coalescing of results (0: off). When an attempt's result comes back while
    #: attempts submitted in the same turn or later still run, the loop waits up to this
    #: long for them too, so that one commit carries several tasks' ends and their
    #: successors' starts (the server sets it: each commit costs a PostgreSQL transaction).
    #: Nothing is acted on meanwhile: a batch is still durable before its attempts start;
    #: the cost is at most this long of a finished worker's idle time per turn.
    result_linger_s: float = 0.0
    project: str = "default"
    domain: str = "development"
    #: The scheduling policy of the engine's own resource queue (when none is given).
    scheduler_policy: str = "airfoil"
    #: How often a loop whose requests wait on the policy looks again (another execution's
    #: attempt ending in this process can let them start).
    admission_poll_s: float = 0.05
    #: The anomaly rule of launch-plan notifications on ``"anomaly"`` (see
    #: :mod:`airfoil.core.history`): k standard deviations, the fewest runs, the runs read.
    anomaly_k: float = 3.0
    anomaly_min_history: int = 10
    history_runs: int = 100
    #: Refuse a shared cache scope no admin declared (a server; see ``_scope_gate``): off,
    #: an undeclared scope is open to every project (one user's local runs).
    cache_scopes_declared_only: bool = False

    def __post_init__(self) -> None:
        """Every duration (``*_s``) a finite number of seconds, at least 0; the lease's and
        the control poll's above 0, and the control poll under a minute (a terminate or a
        server's stop waits up to this long for a drive that waits on a timer).

        Raises:
            ConfigError: naming the setting and what it takes.
        """
        for name, value in vars(self).items():
            if not name.endswith("_s"):
                continue
            low, high = (0.0, _MAX_CONTROL_POLL_S) if name == "control_poll_s" else (0.0, math.inf)
            positive = name in ("control_poll_s", "lease_ttl_s")
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not number or not (low < value < high if positive else low <= value < high):
                shown = f"under {high:g} s" if high < math.inf else "finite"
                least = "above 0" if positive else "at least 0"
                raise ConfigError(
                    f"invalid EngineSettings.{name} {value!r}: give a number of seconds, "
                    f"{least} and {shown}"
                )


#: The longest ``EngineSettings.control_poll_s``: how long a terminate may wait for a drive.
_MAX_CONTROL_POLL_S = 60.0


class Engine:
    """Launches and drives executions over a MetaStore, a BlobStore and an executor."""

    def __init__(
        self,
        meta: MetaStore,
        blobs: BlobStore,
        executor: Executor,
        *,
        blob_url: str,
        clock: Clock | None = None,
        settings: EngineSettings | None = None,
        on_change: Callable[[sm.RunState], None] | None = None,
        secrets: Callable[[str], str | None] | None = None,
        types: TypeEngine | None = None,
        resources: AdmissionQueue | Callable[[], AdmissionQueue] | None = None,
        launcher: Launcher | None = None,
        hooks: Hooks | None = None,
        on_finished: Callable[[str], None] | None = None,
    ) -> None:
        self.meta = meta
        #: called with the execution's id when its drive carries out ``Finished`` (the
        #: runtime's observability hooks write the task history waiting then)
        self.on_finished = on_finished
        #: told of every command the loop carries out (None: no call at all)
        self.hooks = hooks
        self.blobs = blobs
        self.executor = executor
        self.blob_url = blob_url
        self.clock = clock or SystemClock()
        self.settings = settings or EngineSettings()
        self.owner = process_owner()
        self.on_change = on_change
        self.secrets = secrets or env_secret
        self._launched: dict[str, sm.RunState] = {}
        self._types = types
        # a queue, or what gives one on first use (a drive of tasks that ask for no
        # resources never does: the scheduler is not imported, no GPU is detected)
        self._resources_of = resources if callable(resources) else None
        self._resources = None if callable(resources) else resources
        self._launcher = launcher
        #: the flattened graphs of the workflow versions this engine drives (each drive's
        #: start would otherwise flatten its execution's spec again)
        self.graphs = GraphCache()
        self.journal = (
            ItemJournal(self.settings.journal_dir, sync=self.settings.journal_sync)
            if self.settings.journal_dir
            else None
        )

    @property
    def resources(self) -> AdmissionQueue:
        """The queue resource-asking attempts wait in: the one given (shared by every engine
        of the process), else the engine's own over its executor's capacity."""
        if self._resources is None and self._resources_of is not None:
            self._resources = self._resources_of()
        if self._resources is None:
            from airfoil.engine._resources import ResourceQueue
            from airfoil.executors.base import detect_gpus

            self._resources = ResourceQueue(
                self.executor.capacity(),
                detect_gpus(),
                policy=self.settings.scheduler_policy,
                meta=self.meta,
                owner=self.owner,
            )
        return self._resources

    @property
    def types(self) -> TypeEngine:
        """The type engine (the default one unless given)."""
        if self._types is None:
            from airfoil.types import default_type_engine

            self._types = default_type_engine()
        return self._types

    # --- launching -------------------------------------------------------------------------

    @property
    def launcher(self) -> Launcher:
        """What writes new executions: the one given (a server's, shared by every thread),
        else one over this engine's store, clock, resources, secrets and executor name."""
        if self._launcher is None:
            self._launcher = Launcher(
                self.meta,
                clock=self.clock,
                capacity=lambda _name: self.resources,
                secrets=_CallableSecrets(self.secrets),
                executor=self.executor.name,
                retry_backoff_s=self.settings.retry_backoff_s,
                cache_scopes_declared_only=self.settings.cache_scopes_declared_only,
            )
        return self._launcher

    def launch(
        self,
        spec: WorkflowSpec,
        inputs: dict[str, Value],
        *,
        execution_id: str | None = None,
        code_root: str = "",
        labels: dict[str, str] | None = None,
        keep: bool = False,
        name: str | None = None,
    ) -> ExecutionRecord:
        """Record a new execution (phase ``queued``) with already-bound inputs, in the
        engine's project and domain, to be driven by its executor (see :class:`Launcher`;
        ``name``: what the project calls it, unique within its project and domain).

        With ``keep``, the state stays in memory for this engine's next ``drive`` of it.
        """
        state = self.launcher.launch(
            spec,
            inputs,
            project=self.settings.project,
            domain=self.settings.domain,
            execution_id=execution_id,
            code_root=code_root,
            labels=labels,
            executor=self.executor.name,
            name=name,
        )
        if keep:
            # The state just committed is what drive() would read back: keep it for the
            # drive that follows (a fresh run then costs no reload of every node and event).
            self._launched[state.execution.id] = state
        return state.execution

    # --- driving ---------------------------------------------------------------------------

    def load_state(self, execution_id: str) -> sm.RunState:
        """Rebuild an execution's state machine from the store."""
        return load_state(self.meta, execution_id, self.settings.retry_backoff_s, self.graphs)

    def drive(self, execution_id: str, *, claimed_at: float | None = None) -> ExecutionRecord:
        """Run an execution to its end (also resume one); ``claimed_at``: see take_lease."""
        self._take_lease(execution_id, claimed_at)
        settings = self.settings
        group = GroupCommit(
            self.meta,
            self.journal,
            execution_id,
            (execution_id, self.owner),
            now=self.clock.now(),
            max_records=settings.journal_max_items,
            max_s=settings.journal_max_s,
        )
        heartbeat = Heartbeat(
            self.meta, self.clock, execution_id, self.owner, settings.lease_ttl_s, group=group
        )
        heartbeat.start()
        try:
            state = self._launched.pop(execution_id, None)
            if state is None:
                self._commit_journal(execution_id)
                state = self.load_state(execution_id)
            loop = DriveLoop(self, state, heartbeat, group)
            heartbeat.on_beat = partial(
                renew_reservations,
                self.meta,
                self.clock,
                loop.reserved,
                loop._cache_owner(),
                settings.cache_reservation_ttl_s,
            )
            try:
                with self.executor.session():  # per-attempt setup kept across the drive
                    loop.run()
            except EngineBug as exc:  # no workflow may crash the engine
                group.close()  # the journal stays: _engine_failed commits it
                return self._engine_failed(loop, exc)
            finally:
                group.close()  # no fold by the lease thread from here on
                # A drive that ends while its process lives (Ctrl-C, a lost lease, the store
                # away) leaves its journal in the store, so readers see its finished tasks as
                # finished; if that write fails too, the journal waits for a resume.
                with contextlib.suppress(Exception):
                    self._commit_journal(execution_id)
                loop.admission.close()
            return state.execution
        finally:
            heartbeat.stop()
            self.meta.release_lease(execution_id, self.owner)

    def _engine_failed(self, loop: DriveLoop, exc: EngineBug) -> ExecutionRecord:
        """Fail an execution whose drive hit an error of the engine's own (never leave it
        running, or crashing every resume the same way)."""
        exec_id = loop.state.execution.id
        for node_id in list(loop.admission.in_use):
            with contextlib.suppress(Exception):
                self.executor.cancel(exec_id, node_id)
        error = ErrorInfo(
            kind=ErrorKind.SYSTEM,
            type="EngineError",
            message=(
                f"internal error in the engine: {exc}. This is a bug "
                "in Airfoil (or in its executor), not in your workflow: please report it with "
                f"this traceback and `airfoil executions show {exec_id}`"
            ),
            traceback="".join(traceback.format_exception(exc)),
        )
        now = self.clock.now()
        with contextlib.suppress(Exception):
            self._commit_journal(exec_id)  # items that finished stay finished
        try:  # a fresh state from the store: the one in memory may be what broke
            state = self.load_state(exec_id)
            state.handle(sm.EngineFailed(error, now))
            batch = state.take_batch()
        except Exception:
            record = self.meta.get_execution(exec_id)
            record.phase, record.error, record.ended_at = ExecutionPhase.FAILED.value, error, now
            events = self.meta.get_events(exec_id)
            batch = StoreBatch(
                execution=record,
                events=[
                    EventRecord(
                        execution_id=exec_id,
                        seq=(events[-1].seq if events else 0) + 1,
                        at=now,
                        kind="execution",
                        to_phase=ExecutionPhase.FAILED.value,
                        cause=error.message,
                    )
                ],
            )
            state = None
        batch.lease = (exec_id, self.owner)
        self.meta.write(batch)
        return state.execution if state is not None else self.meta.get_execution(exec_id)

    def _commit_journal(self, execution_id: str) -> None:
        """Commit what an interrupted drive journaled but had not committed (the lease held)."""
        if self.journal is None:
            return
        journaled = self.journal.read(execution_id)
        if journaled:
            news = replay_batch(self.meta, execution_id, journaled)
            if news is not None:
                news.lease = (execution_id, self.owner)
                self.meta.write(news)
        self.journal.clear(execution_id)

    def _take_lease(self, execution_id: str, claimed_at: float | None = None) -> None:
        s, now = self.settings, self.clock.now()
        take_lease(self.meta, execution_id, self.owner, now, s.lease_ttl_s, claimed_at)

    def relaunch(self, execution_id: str, *, new_id: str | None = None) -> ExecutionRecord:
        """A new execution of the same workflow version with the same inputs."""
        return self.launcher.relaunch(execution_id, new_id=new_id, executor=self.executor.name)

    def recover(self, execution_id: str, *, new_id: str | None = None) -> ExecutionRecord:
        """A new execution of a failed one that reuses the outputs of every node that had
        succeeded (and of every finished map item) and runs only from the failure on.

        Raises:
            ConfigError: the execution has not ended in failure (or abort).
        """
        return self.launcher.recover(execution_id, new_id=new_id, executor=self.executor.name)

    def abort(self, execution_id: str, reason: str = "aborted by user") -> ExecutionRecord:
        """Abort an execution that no engine is driving (what an interrupted drive of it
        journaled is committed first: the abort is written over its latest state)."""
        if self.journal is not None and self.journal.read(execution_id):
            self._take_lease(execution_id)
            try:
                self._commit_journal(execution_id)
            finally:
                self.meta.release_lease(execution_id, self.owner)
        return self.launcher.abort(
            execution_id, reason, owner=self.owner, lease_ttl_s=self.settings.lease_ttl_s
        )


class _CallableSecrets:
    """An engine's secret function as a :class:`~airfoil.store.stores.SecretSource` (the
    engine reads the secrets of the executions it drives; every project alike)."""

    def __init__(self, secret: Callable[[str], str | None]) -> None:
        self.secret = secret

    def get_many(self, project: str, names: tuple[str, ...]) -> dict[str, str]:
        return {n: v for n in names if (v := self.secret(n)) is not None}
