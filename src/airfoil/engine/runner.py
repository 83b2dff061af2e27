"""The driver loop: the one place the engine does I/O.

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
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from airfoil.core.clock import Clock, SystemClock
from airfoil.core.errors import NotFoundError
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
from airfoil.engine._child_calls import ChildCalls
from airfoil.engine._commands import PREEMPTED, ExpandMap, WatchSignal
from airfoil.engine._drive_support import (
    Timers,
    env_secret,
    finished_event,
    linger,
    process_owner,
    renew_reservations,
)
from airfoil.engine._group_commit import GroupCommit
from airfoil.engine._journal import ItemJournal, replay_batch
from airfoil.engine._lease import Heartbeat
from airfoil.engine._mapping import split_item_id
from airfoil.engine._requests import replace_environment
from airfoil.engine._scope_gate import ScopeGate, look_up
from airfoil.engine.admission import Admission
from airfoil.engine.graph import GraphCache
from airfoil.engine.launcher import Launcher, load_state, take_lease
from airfoil.executors.base import AttemptRequest, AttemptResult, Executor, attempt_log_key
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
            loop = _Loop(self, state, heartbeat, group)
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

    def _engine_failed(self, loop: _Loop, exc: EngineBug) -> ExecutionRecord:
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


class EngineBug(Exception):
    """The run state machine failed on an event: a bug of the engine's own (never the
    user's: their code runs in attempts, whose errors are results)."""


class _Loop:
    """One drive of one execution."""

    def __init__(
        self, engine: Engine, state: sm.RunState, heartbeat: Heartbeat, group: GroupCommit
    ) -> None:
        self.e = engine
        self.state = state
        self.heartbeat = heartbeat
        now = engine.clock.now()
        self.maps_flushed = now
        self.group = group
        self.timers = Timers()
        self.cache_waits: dict[str, sm.LookupCache] = {}
        self.signal_waits: dict[str, str] = {}
        self.reserved: set[str] = set()
        self.scopes = ScopeGate(
            engine.meta,
            state.execution.project,
            declared_only=engine.settings.cache_scopes_declared_only,
        )
        #: node or item id -> the cause of the command under way for it (enqueued, running,
        #: waiting for its retry or signal), handed to the event that command produces
        self.causes: dict[str, int] = {}
        self.hooks = engine.hooks
        self.admission = Admission(
            engine.executor,
            engine.settings.max_parallel,
            lambda: engine.resources,
            state.execution.id,
            state.execution.project,
        )
        self.finished = False
        #: the loop's turns so far, and the turn each running attempt was submitted in
        #: (``result_linger_s``: whose results are worth waiting for)
        self.turn = 0
        self.submitted_in: dict[str, int] = {}
        self.linger_s = engine.settings.result_linger_s
        #: commands a re-entrant turn (see run_until) left for the turn it interrupted
        self.carried: deque[sm.Command] = deque()
        self.children = ChildCalls(self)
        # A workflow called inside an inline attempt drives a loop of its own on the same
        # executor: the calling loop's transport comes back when this one ends (run()).
        self._outer_children = engine.executor.child_transport
        engine.executor.connect(self.children)

    def handle(self, event: sm.Event) -> list[sm.Command]:
        """Feed an event to the state machine; an error there is the engine's own.

        Raises:
            EngineBug: the state machine failed on the event.
        """
        try:
            return self.state.handle(event)
        except Exception as exc:
            raise EngineBug(f"{type(exc).__name__}: {exc} (handling {event!r})") from exc

    def run(self) -> None:
        """Drive the execution to its end."""
        try:
            self._turns(deque(self.handle(sm.Start(self.e.clock.now()))), None)
        finally:
            self.e.executor.connect(self._outer_children)

    def run_until(self, first: list[sm.Command], until: Callable[[], bool]) -> None:
        """Drive from inside an attempt that runs in this thread (an inline task waiting on
        a task it called) until ``until()`` holds once everything is committed. The same
        loop: commands it leaves are carried out by the turn it interrupted."""
        self._turns(deque(first), until)

    def _turns(self, pending: deque[sm.Command], until: Callable[[], bool] | None) -> None:
        e, state = self.e, self.state
        clock = e.clock
        children = self.children
        executor = e.executor
        while True:
            self.turn += 1
            if self.carried:
                pending.extend(self.carried)
                self.carried.clear()
            if children.inbox:  # calls of an attempt that ran in this thread and went on
                events_in: list[sm.Event] = []
                children.take_inbox(events_in)
                for ev in events_in:
                    pending.extend(self.handle(ev))
            # Admission is pure bookkeeping: settle it first, so that a node's "succeeded"
            # and its successor's "running" are committed in one write.
            pending = self._admit(pending)
            # The first turn tells readers the state even when it wrote nothing: a resumed
            # run whose gate was already waiting changes nothing until it is answered, and
            # its readers (the CLI's gate hint) would never see it.
            if (self.commit() or self.turn == 1) and e.on_change is not None:
                e.on_change(state)
            if children.waiting:
                children.answer_ready()  # children whose end is now committed
            if until is not None and until():
                self.carried.extend(pending)
                return
            if self.finished and not pending:
                break
            events: list[sm.Event] = []
            if pending:
                cmds = list(pending)
                pending.clear()
                for cmd in cmds:
                    self._carry_out(cmd, events)
                if (
                    not events
                    and not self.finished
                    and not self.carried
                    and not children.inbox
                    and self.admission.running
                    and executor.has_results()
                ):
                    # The attempts just submitted have finished already (inline): collect
                    # them now. The next turn would only wait: with no event handled since
                    # this turn's commit it has nothing to commit, and admission was settled
                    # after this turn's last enqueue.
                    events.extend(self._wait(clock.now()))
            elif not self.finished:
                events.extend(self._wait(clock.now()))
            for ev in events:
                pending.extend(self.handle(ev))
            self.heartbeat.check()

    def commit(self) -> bool:
        """Make the state machine's pending batch durable before anything is acted on: in
        the journal, or in the store with what was journaled (see ``_group_commit``), fenced
        by the lease. Whether readers of the run's state have news (``on_change``)."""
        e = self.e
        now = e.clock.now()
        counts = now - self.maps_flushed >= e.settings.map_counts_every_s
        if counts:
            self.maps_flushed = now
        batch = self.state.take_batch(map_counts=counts)
        if not batch:
            return False
        if batch.cache_puts:  # the boundary: whatever made them (see _scope_gate)
            batch.cache_puts = self.scopes.writable(batch.cache_puts)
        self.heartbeat.check()
        return self.group.commit(batch, now)

    def attempt_request(self, cmd: sm.StartAttempt) -> AttemptRequest:
        """What an executor needs to run the attempt a StartAttempt asks for."""
        task = self.state.task_of(cmd.node_id)
        assert task is not None
        gpus = self.admission.gpus_of(cmd.node_id) if self.admission.shared else ()
        if gpus:
            task = replace_environment(task, {"CUDA_VISIBLE_DEVICES": ",".join(gpus)})
        ex = self.state.execution
        return AttemptRequest(
            execution_id=ex.id,
            node_id=cmd.node_id,
            attempt=cmd.attempt,
            task=task,
            inputs=cmd.inputs,
            blob_url=self.e.blob_url,
            code_root=ex.code_root,
            log_key=attempt_log_key(ex.id, cmd.node_id, cmd.attempt),
            secrets=self._secrets_for(task.secret_requests) if task.secret_requests else {},
            placement=self.admission.placement_of(cmd.node_id),
            project=ex.project,
            domain=ex.domain,
            execution_name=ex.name,
        )

    def _admit(self, pending: deque[sm.Command]) -> deque[sm.Command]:
        rest: deque[sm.Command] = deque()
        causes = self.causes
        for cmd in pending:
            if isinstance(cmd, sm.Enqueue):
                self.admission.enqueue(cmd.node_id, self.state)
                causes[cmd.node_id] = cmd.cause
                if self.hooks is not None:
                    self._hook(cmd)
            else:
                rest.append(cmd)
        now = self.e.clock.now()
        for nid in self.admission.admit(self.state):
            cmds = self.handle(sm.Admit(nid, now, cause=causes.pop(nid, 0)))
            for c in cmds:
                if type(c) is sm.StartAttempt:
                    break
            else:
                self.admission.release(nid)  # no longer queued (aborted): give it back
            rest.extend(cmds)
        if self.admission.preempted:
            for nid in self.admission.take_preempted():
                rest.extend(self._preempt(nid, now))
        return rest

    def _preempt(self, nid: str, now: float) -> list[sm.Command]:
        """Stop a running attempt the policy preempted and report it as a system error."""
        self.e.executor.cancel(self.state.execution.id, nid)
        rec = self.state.records.get(nid)
        attempt = rec.attempts if rec is not None else 0
        if rec is None:  # a map item: its attempt number is the map's
            parsed = split_item_id(nid)
            ms = self.state.maps.get(parsed[0]) if parsed is not None else None
            attempt = ms.attempts[parsed[1]] if ms is not None and parsed is not None else 0
        att = self.state.attempts.get((nid, attempt))
        error = ErrorInfo(
            kind=ErrorKind.SYSTEM,
            type=PREEMPTED,
            message="preempted by the scheduler to give its resources to other work",
        )
        return self.handle(
            sm.AttemptFinished(
                node_id=nid,
                attempt=attempt,
                outputs=None,
                error=error,
                started_at=att.started_at if att is not None else now,
                now=now,
                cause=self.causes.pop(nid, 0),
            )
        )

    def _release(self, r: AttemptResult) -> None:
        self.admission.release(
            r.node_id,
            succeeded=r.error is None,
            attempt=r.attempt,
            duration=max(0.0, r.ended_at - r.started_at),
        )

    def _wait(self, now: float) -> list[sm.Event]:
        """Nothing to do right now: wait for an attempt, a timer, or a cache holder."""
        e = self.e
        timers = self.timers
        timeout = timers.next_in(now) if timers.heap else None
        if self.cache_waits:
            poll = e.settings.cache_wait_poll_s
            timeout = poll if timeout is None else min(timeout, poll)
        if self.signal_waits:
            poll = e.settings.signal_poll_s
            timeout = poll if timeout is None else min(timeout, poll)
        waiting_on_policy = self.admission.waiting_on_policy
        if waiting_on_policy:
            poll = e.settings.admission_poll_s
            timeout = poll if timeout is None else min(timeout, poll)
        events: list[sm.Event] = []
        children = self.children
        if self.admission.running or children.any_blocked():
            results = e.executor.poll(timeout)
            if results and self.linger_s:
                results = linger(
                    e.executor, results, self.admission.in_use, self.submitted_in, self.linger_s
                )
            now = e.clock.now()
            for r in results:
                if r.execution_id != self.state.execution.id:
                    continue  # a stale report from another drive sharing the executor
                self._release(r)
                events.append(finished_event(r, now, self.causes.pop(r.node_id, 0)))
            children.receive(events)
        elif timeout is not None:
            e.clock.sleep(timeout)
            now = e.clock.now()
        elif not self.cache_waits and not self.signal_waits and not waiting_on_policy:
            raise RuntimeError(
                f"execution {self.state.execution.id} is stuck: nothing running, queued or due"
            )
        if timers.heap:
            for nid in timers.due(now):
                events.append(sm.RetryDue(nid, now, cause=self.causes.pop(nid, 0)))
        if self.signal_waits:
            self._check_signals(events)
        if self.cache_waits:
            waits = list(self.cache_waits.values())
            self.cache_waits.clear()
            for cmd in waits:
                self._lookup(cmd, events)
        return events

    def _hook(self, cmd: sm.Command) -> None:
        """Tell the hooks a command is carried out (an observer never fails a run)."""
        assert self.hooks is not None
        try:
            self.hooks.command_carried_out(self.state.execution.id, cmd, cmd.cause)
        except Exception:
            log.exception("a hook failed on command %r", cmd)

    def _carry_out(self, cmd: sm.Command, events: list[sm.Event]) -> None:
        e, state = self.e, self.state
        if self.hooks is not None:
            self._hook(cmd)
        if isinstance(cmd, sm.StartAttempt):
            self.causes[cmd.node_id] = cmd.cause
            if self.linger_s:
                self.submitted_in[cmd.node_id] = self.turn
            e.executor.submit(self.attempt_request(cmd))
        elif isinstance(cmd, sm.LookupCache):
            self._lookup(cmd, events)
        elif isinstance(cmd, ExpandMap):
            events.append(self._expand_map(cmd))
        elif isinstance(cmd, WatchSignal):
            self.signal_waits[cmd.node_id] = cmd.name
            self.causes[cmd.node_id] = cmd.cause
            self._check_signals(events)
        elif isinstance(cmd, sm.ScheduleRetry):
            self.causes[cmd.node_id] = cmd.cause
            self.timers.push(cmd.at, cmd.node_id)
        elif isinstance(cmd, sm.CancelAttempt):
            e.executor.cancel(state.execution.id, cmd.node_id)
            self.admission.release(cmd.node_id)
        elif isinstance(cmd, sm.ReleaseCache):
            if cmd.key in self.reserved:
                self.reserved.discard(cmd.key)  # first: see renew_reservations
                e.meta.release_cache(cmd.key, self._cache_owner())
        elif isinstance(cmd, sm.Finished):
            self.finished = True
            if e.on_finished is not None:
                try:
                    e.on_finished(state.execution.id)
                except Exception:  # an observer never fails a run
                    log.exception("on_finished failed for %s", state.execution.id)
            keys = list(self.reserved)
            self.reserved.clear()  # first: see renew_reservations
            for key in keys:
                e.meta.release_cache(key, self._cache_owner())

    def _check_signals(self, events: list[sm.Event]) -> None:
        if not self.signal_waits:
            return
        from airfoil.engine.signals import received_signals

        # One read of the control inbox for every waiting gate.
        sent = received_signals(self.e.meta, self.state.execution.id)
        for nid, name in list(self.signal_waits.items()):
            if self.state.records[nid].phase != "running":
                del self.signal_waits[nid]
                continue
            value = sent.get(name)
            if value is not None:
                del self.signal_waits[nid]
                cause = self.causes.get(nid, 0)
                events.append(sm.SignalReceived(nid, value, self.e.clock.now(), cause=cause))

    def _expand_map(self, cmd: ExpandMap) -> sm.MapExpanded:
        """Split a map's list inputs into per-item inputs."""
        from airfoil.core.errors import TypeTransformError
        from airfoil.types import ValueContext

        now = self.e.clock.now()
        ctx = ValueContext(blobs=self.e.blobs)
        nid, cause = cmd.node_id, cmd.cause
        try:
            lists = {name: self.e.types.split_list(cmd.inputs[name], ctx) for name in cmd.mapped}
        except (TypeTransformError, NotFoundError) as exc:
            return sm.MapExpanded(nid, None, str(exc), now, cause=cause)
        lengths = {name: len(v) for name, v in lists.items()}
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{k} has {n}" for k, n in lengths.items())
            error = f"mapped inputs have different lengths: {detail}"
            return sm.MapExpanded(nid, None, error, now, cause=cause)
        n = next(iter(lengths.values()), 0)
        fixed = {k: v for k, v in cmd.inputs.items() if k not in lists}
        items = [{**fixed, **{k: lists[k][i] for k in lists}} for i in range(n)]
        return sm.MapExpanded(nid, items, "", now, cause=cause)

    def _secrets_for(self, names: tuple[str, ...]) -> dict[str, str]:
        found: dict[str, str] = {}
        for name in names:
            value = self.e.secrets(name)
            if value is not None:
                found[name] = value
        return found

    def _cache_owner(self) -> str:
        return f"{self.e.owner}/{self.state.execution.id}"

    def _lookup(self, cmd: sm.LookupCache, events: list[sm.Event]) -> None:
        e = self.e
        ev = look_up(
            e.meta,
            e.blobs,
            cmd,
            now=e.clock.now(),
            owner=self._cache_owner(),
            ttl_s=e.settings.cache_reservation_ttl_s,
            reserved=self.reserved,
            gate=self.scopes,
        )
        if ev is None:
            self.cache_waits[cmd.node_id] = cmd  # another attempt computes it: wait
        else:
            events.append(ev)
