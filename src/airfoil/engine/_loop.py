"""One drive of one execution: the loop that takes the state machine's pending batch,
commits it, carries out its commands (cache lookups, admission, submitting attempts,
timers, signals, map expansions) and feeds back what came of them as events.

:class:`~airfoil.engine.runner.Engine` builds a :class:`DriveLoop` for each ``drive`` and
owns what outlives it (the store, executor, lease and journal); the loop owns one drive's
bookkeeping (timers, cache and signal waits, causes, admission) and nothing else. The
invariant of the module above holds here: a batch is committed before any command of it is
carried out (see :meth:`DriveLoop.commit`).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from airfoil.core.errors import NotFoundError
from airfoil.core.phases import ErrorKind
from airfoil.core.records import (
    ErrorInfo,
)
from airfoil.engine import state as sm
from airfoil.engine._child_calls import ChildCalls
from airfoil.engine._commands import PREEMPTED, ExpandMap, WatchSignal
from airfoil.engine._drive_support import (
    Timers,
    finished_event,
    linger,
)
from airfoil.engine._group_commit import GroupCommit
from airfoil.engine._lease import Heartbeat
from airfoil.engine._mapping import split_item_id
from airfoil.engine._requests import replace_environment
from airfoil.engine._scope_gate import ScopeGate, look_up
from airfoil.engine.admission import Admission
from airfoil.executors.base import AttemptRequest, AttemptResult, attempt_log_key

if TYPE_CHECKING:
    from airfoil.engine.runner import Engine

__all__ = ["DriveLoop", "EngineBug"]

log = logging.getLogger("airfoil.engine")


class EngineBug(Exception):
    """The run state machine failed on an event: a bug of the engine's own (never the
    user's: their code runs in attempts, whose errors are results)."""


class DriveLoop:
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
            # Nothing runs, but the executor is still asked first (it returns at once): its
            # poll is where a server's slot reads a terminate request and its shutdown, and a
            # local drive's TerminateWatch its abort. Slept past, they waited for the gate or
            # cache holder to resolve (a gate's timeout: minutes, hours). Nothing of this drive
            # runs, so what it may return is another drive's stale report, dropped as above.
            # The sleep is cut into pieces of ``control_poll_s`` for the same reason: a
            # retry's backoff (up to 30 s) or a gate's timeout is not waited out whole.
            e.executor.poll(0)
            e.clock.sleep(min(timeout, e.settings.control_poll_s))
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
