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

import heapq
import os
import socket
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airfoil.core.clock import Clock, SystemClock
from airfoil.core.errors import ConflictError, NotFoundError
from airfoil.core.ids import new_execution_id
from airfoil.core.phases import ExecutionPhase, NodePhase
from airfoil.core.records import ErrorInfo, ExecutionRecord, Value, WorkflowSpec
from airfoil.engine import state as sm
from airfoil.engine._child_calls import ChildCalls
from airfoil.engine._commands import PREEMPTED, ExpandMap, WatchSignal
from airfoil.engine._resources import ResourceQueue, asks_for_resources, replace_environment
from airfoil.engine.admission import Admission
from airfoil.engine.cache import explain_miss
from airfoil.engine.cache_io import unusable_outputs
from airfoil.executors.base import AttemptRequest, AttemptResult, Executor, attempt_log_key
from airfoil.store.base import BlobStore, MetaStore

__all__ = ["Engine", "EngineSettings"]


@dataclass
class EngineSettings:
    """Knobs of the driver loop."""

    lease_ttl_s: float = 30.0
    cache_wait_poll_s: float = 0.1
    signal_poll_s: float = 0.25
    cache_reservation_ttl_s: float = 3600.0
    retry_backoff_s: float = 0.05
    max_parallel: int | None = None
    #: Inline map items run back to back inside one loop turn; their results are committed
    #: every this many items. After a crash at most this many finished items run again;
    #: 1 commits every item (slower, strictest).
    inline_commit_every: int = 16
    project: str = "default"
    domain: str = "development"
    #: The scheduling policy of the engine's own resource queue (when none is given).
    scheduler_policy: str = "airfoil"
    #: How often a loop whose requests wait on the policy looks again (another execution's
    #: attempt ending in this process can let them start).
    admission_poll_s: float = 0.05


@dataclass
class _Timers:
    heap: list[tuple[float, int, str]] = field(default_factory=list)
    counter: int = 0

    def push(self, at: float, node_id: str) -> None:
        self.counter += 1
        heapq.heappush(self.heap, (at, self.counter, node_id))

    def due(self, now: float) -> list[str]:
        out = []
        while self.heap and self.heap[0][0] <= now:
            out.append(heapq.heappop(self.heap)[2])
        return out

    def next_in(self, now: float) -> float | None:
        return max(0.0, self.heap[0][0] - now) if self.heap else None


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
        types: Any = None,
        resources: ResourceQueue | None = None,
    ) -> None:
        self.meta = meta
        self.blobs = blobs
        self.executor = executor
        self.blob_url = blob_url
        self.clock = clock or SystemClock()
        self.settings = settings or EngineSettings()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.on_change = on_change
        self.secrets = secrets or env_secret
        self._launched: dict[str, sm.RunState] = {}
        self._types = types
        self._resources = resources

    @property
    def resources(self) -> ResourceQueue:
        """The queue resource-asking attempts wait in: the one given (shared by every engine
        of the process), else the engine's own over its executor's capacity."""
        if self._resources is None:
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
    def types(self) -> Any:
        """The type engine (the default one unless given)."""
        if self._types is None:
            from airfoil.types import default_type_engine

            self._types = default_type_engine()
        return self._types

    # --- launching -------------------------------------------------------------------------

    def launch(
        self,
        spec: WorkflowSpec,
        inputs: dict[str, Value],
        *,
        execution_id: str | None = None,
        code_root: str = "",
        labels: dict[str, str] | None = None,
        keep: bool = False,
    ) -> ExecutionRecord:
        """Record a new execution (phase ``queued``) with already-converted inputs.

        With ``keep``, the state stays in memory for this engine's next ``drive`` of it.
        """
        exec_id = execution_id or new_execution_id()
        try:
            self.meta.get_execution(exec_id)
        except NotFoundError:
            pass
        else:
            raise ConflictError(
                f"an execution named {exec_id!r} already exists: choose another --name, or "
                f"`airfoil executions resume {exec_id}` to continue it"
            )
        from airfoil.engine.graph import flatten

        graph = flatten(spec)
        self._check_capacity(graph)
        self._check_secrets(graph)
        record = ExecutionRecord(
            id=exec_id,
            workflow=spec.name,
            version=spec.version,
            phase=ExecutionPhase.QUEUED.value,
            spec=spec,
            inputs=inputs,
            created_at=self.clock.now(),
            project=self.settings.project,
            domain=self.settings.domain,
            executor=self.executor.name,
            code_root=code_root,
            labels=labels or {},
        )
        state = sm.RunState(
            record, graph=graph, retry=sm.RetryPolicy(base_s=self.settings.retry_backoff_s)
        )
        state._exec_dirty = True
        state._event("execution", ExecutionPhase.QUEUED.value, "launched", record.created_at)
        self.meta.write(state.take_batch())
        if keep:
            # The state just committed is what drive() would read back: keep it for the
            # drive that follows (a fresh run then costs no reload of every node and event).
            self._launched[exec_id] = state
        return record

    def _check_secrets(self, graph: dict[str, Any]) -> None:
        from airfoil.core.errors import ConfigError

        for node in graph.values():
            for name in node.task.secret_requests if node.task else ():
                if self.secrets(name) is None:
                    raise ConfigError(
                        f"task {node.task.name!r} requests secret {name!r}, which is not set: "  # type: ignore[union-attr]
                        f"export {secret_env_name(name)}=... (or set it on the server)"
                    )

    def _check_capacity(self, graph: dict[str, Any]) -> None:
        """Fail at launch a task that could never start (see ``ResourceQueue.check``)."""
        for node in graph.values():
            if asks_for_resources(node.task):
                self.resources.check(node.task, node.id, self.settings.project)

    # --- driving ---------------------------------------------------------------------------

    def load_state(self, execution_id: str) -> sm.RunState:
        """Rebuild an execution's state machine from the store."""
        record = self.meta.get_execution(execution_id)
        nodes = {n.node_id: n for n in self.meta.get_nodes(execution_id)}
        attempts = {(a.node_id, a.attempt): a for a in self.meta.get_attempts(execution_id)}
        events = self.meta.get_events(execution_id)
        last_seq = events[-1].seq if events else 0
        return sm.RunState(
            record,
            nodes,
            attempts,
            last_seq=last_seq,
            retry=sm.RetryPolicy(base_s=self.settings.retry_backoff_s),
        )

    def drive(self, execution_id: str) -> ExecutionRecord:
        """Run an execution to a terminal phase (also: resume one that was interrupted)."""
        self._take_lease(execution_id)
        try:
            state = self._launched.pop(execution_id, None) or self.load_state(execution_id)
            loop = _Loop(self, state)
            try:
                loop.run()
            finally:
                loop.admission.close()
            return state.execution
        finally:
            self.meta.release_lease(execution_id, self.owner)

    def _take_lease(self, execution_id: str) -> None:
        now = self.clock.now()
        if self.meta.acquire_lease(execution_id, self.owner, now, self.settings.lease_ttl_s):
            return
        holder = self.meta.get_lease(execution_id)
        if holder is not None and _holder_is_dead(holder[0]):
            self.meta.release_lease(execution_id, holder[0])
            if self.meta.acquire_lease(execution_id, self.owner, now, self.settings.lease_ttl_s):
                return
        raise ConflictError(
            f"execution {execution_id} is being driven by another engine; wait for it to "
            "finish, or for its lease to expire if that process died"
        )

    def relaunch(self, execution_id: str, *, new_id: str | None = None) -> ExecutionRecord:
        """A new execution of the same workflow version with the same inputs."""
        old = self.meta.get_execution(execution_id)
        return self.launch(
            old.spec,
            old.inputs,
            execution_id=new_id,
            code_root=old.code_root,
            labels={**old.labels, "relaunch_of": old.id},
        )

    def recover(self, execution_id: str, *, new_id: str | None = None) -> ExecutionRecord:
        """A new execution of a failed one that reuses the outputs of every node that had
        succeeded (and of every finished map item) and runs only from the failure on.

        Raises:
            ConfigError: the execution has not ended in failure (or abort).
        """
        from airfoil.core.errors import ConfigError
        from airfoil.engine._mapping import split_item_id

        old = self.meta.get_execution(execution_id)
        if old.phase not in (ExecutionPhase.FAILED.value, ExecutionPhase.ABORTED.value):
            raise ConfigError(
                f"execution {execution_id} is {old.phase}: only failed or aborted executions "
                "can be recovered (use relaunch to run it again)"
            )
        record = self.launch(
            old.spec,
            old.inputs,
            execution_id=new_id,
            code_root=old.code_root,
            labels={**old.labels, "recovered_from": old.id},
        )
        now = self.clock.now()
        state = sm.RunState(record, last_seq=1)
        reused = [n for n in self.meta.get_nodes(old.id) if n.phase == NodePhase.SUCCEEDED.value]
        maps = {n.node_id for n in self.meta.get_nodes(old.id) if n.kind == "map"}
        for prev in reused:
            rec = state.records.get(prev.node_id)
            if rec is None:
                continue
            rec.phase = NodePhase.SUCCEEDED.value
            rec.outputs, rec.inputs = prev.outputs, prev.inputs
            rec.cache_status, rec.cache_reason = prev.cache_status, prev.cache_reason
            rec.branch_taken, rec.map_counts = prev.branch_taken, prev.map_counts
            rec.started_at, rec.ended_at, rec.attempts = prev.started_at, prev.ended_at, 0
            state._dirty_nodes[prev.node_id] = rec
            state._event(
                "node",
                NodePhase.SUCCEEDED.value,
                f"recovered from {old.id}",
                now,
                node=prev.node_id,
            )
        items = [
            a
            for a in self.meta.get_attempts(old.id)
            if a.phase == "succeeded"
            and (parsed := split_item_id(a.node_id)) is not None
            and parsed[0] in maps
        ]
        batch = state.take_batch()
        batch.execution = None
        batch.attempts = [
            type(a)(
                execution_id=record.id,
                node_id=a.node_id,
                attempt=a.attempt,
                phase=a.phase,
                started_at=a.started_at,
                ended_at=a.ended_at,
                outputs=a.outputs,
                worker=a.worker,
                log_uri=a.log_uri,
            )
            for a in items
        ]
        self.meta.write(batch)
        return record

    def abort(self, execution_id: str, reason: str = "aborted by user") -> ExecutionRecord:
        """Abort an execution that no engine is driving."""
        self._take_lease(execution_id)
        try:
            state = self.load_state(execution_id)
            state.handle(sm.Abort(reason, self.clock.now()))
            self.meta.write(state.take_batch())
            return state.execution
        finally:
            self.meta.release_lease(execution_id, self.owner)


def secret_env_name(name: str) -> str:
    """The environment variable a secret is read from locally: ``AIRFOIL_SECRET_<NAME>``."""
    return "AIRFOIL_SECRET_" + "".join(c if c.isalnum() else "_" for c in name).upper()


def env_secret(name: str) -> str | None:
    """The default secret source of local runs: ``AIRFOIL_SECRET_<NAME>``."""
    return os.environ.get(secret_env_name(name))


def _holder_is_dead(owner: str) -> bool:
    """Whether a lease holder ``host:pid:nonce`` is a process of this host that has exited."""
    import psutil

    parts = owner.split(":")
    if len(parts) < 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        proc = psutil.Process(pid)
        return bool(proc.status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


class _Loop:
    """One drive of one execution."""

    def __init__(self, engine: Engine, state: sm.RunState) -> None:
        self.e = engine
        self.state = state
        self.timers = _Timers()
        self.cache_waits: dict[str, sm.LookupCache] = {}
        self.signal_waits: dict[str, str] = {}
        self.reserved: set[str] = set()
        self.admission = Admission(
            engine.executor,
            engine.settings.max_parallel,
            engine.resources,
            state.execution.id,
            state.execution.project,
        )
        self.last_lease = engine.clock.now()
        self.finished = False
        self.inline = engine.executor.name == "inline"
        self.children: ChildCalls | None = None
        if self.inline:
            from airfoil.engine._children import ChildRunner

            engine.executor.connect(ChildRunner(self))
        else:
            self.children = ChildCalls(self)

    def run(self) -> None:
        e, state = self.e, self.state
        clock = e.clock
        pending: deque[sm.Command] = deque(state.handle(sm.Start(clock.now())))
        while True:
            # Admission is pure bookkeeping: settle it first, so that a node's "succeeded"
            # and its successor's "running" are committed in one write.
            pending = self._admit(pending)
            batch = state.take_batch()
            if batch:
                e.meta.write(batch)
                if e.on_change is not None:
                    e.on_change(state)
            if self.children is not None:
                self.children.answer_ready()  # children whose end is now committed
            if self.finished and not pending:
                break
            events: list[sm.Event] = []
            if pending:
                cmds = list(pending)
                pending.clear()
                since_commit = 0
                for cmd in cmds:
                    self._carry_out(cmd, events)
                    if isinstance(cmd, sm.StartAttempt) and self.inline:
                        since_commit += 1
                        if since_commit >= e.settings.inline_commit_every:
                            self._commit_inline_results(pending)
                            since_commit = 0
            elif not self.finished:
                events.extend(self._wait(clock.now()))
            for ev in events:
                pending.extend(state.handle(ev))
            self._renew_lease()

    def attempt_request(self, cmd: sm.StartAttempt) -> AttemptRequest:
        """What an executor needs to run the attempt a StartAttempt asks for."""
        task = self.state.task_of(cmd.node_id)
        assert task is not None
        gpus = self.admission.gpus_of(cmd.node_id)
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
            secrets=self._secrets_for(task.secret_requests),
        )

    def _commit_inline_results(self, pending: deque[sm.Command]) -> None:
        """Record inline attempts that already ran, in the middle of a loop turn."""
        now = self.e.clock.now()
        for r in self.e.executor.poll(0):
            if r.execution_id != self.state.execution.id:
                continue
            self._release(r)
            pending.extend(self.state.handle(_finished_event(r, now)))
        batch = self.state.take_batch()
        if batch:
            self.e.meta.write(batch)

    def _admit(self, pending: deque[sm.Command]) -> deque[sm.Command]:
        rest: deque[sm.Command] = deque()
        for cmd in pending:
            if isinstance(cmd, sm.Enqueue):
                self.admission.enqueue(cmd.node_id, self.state)
            else:
                rest.append(cmd)
        now = self.e.clock.now()
        for nid in self.admission.admit(self.state):
            cmds = self.state.handle(sm.Admit(nid, now))
            if not any(isinstance(c, sm.StartAttempt) for c in cmds):
                self.admission.release(nid)  # no longer queued (aborted): give it back
            rest.extend(cmds)
        for nid in self.admission.take_preempted():
            rest.extend(self._preempt(nid, now))
        return rest

    def _preempt(self, nid: str, now: float) -> list[sm.Command]:
        """Stop a running attempt the policy preempted and report it as a system error."""
        self.e.executor.cancel(self.state.execution.id, nid)
        rec = self.state.records.get(nid)
        attempt = rec.attempts if rec is not None else 0
        if rec is None:  # a map item: its attempt number is the map's
            from airfoil.engine._mapping import split_item_id

            parsed = split_item_id(nid)
            ms = self.state.maps.get(parsed[0]) if parsed is not None else None
            attempt = ms.attempts[parsed[1]] if ms is not None and parsed is not None else 0
        att = self.state.attempts.get((nid, attempt))
        error = ErrorInfo(
            kind="system",
            type=PREEMPTED,
            message="preempted by the scheduler to give its resources to other work",
        )
        return self.state.handle(
            sm.AttemptFinished(
                node_id=nid,
                attempt=attempt,
                outputs=None,
                error=error,
                started_at=att.started_at if att is not None else now,
                now=now,
            )
        )

    def _release(self, r: AttemptResult) -> None:
        self.admission.release(
            r.node_id,
            succeeded=r.error is None,
            attempt=r.attempt,
            duration=max(0.0, r.ended_at - r.started_at),
        )

    def _renew_lease(self) -> None:
        now = self.e.clock.now()
        if now - self.last_lease > self.e.settings.lease_ttl_s / 3:
            if not self.e.meta.acquire_lease(
                self.state.execution.id, self.e.owner, now, self.e.settings.lease_ttl_s
            ):
                raise ConflictError(f"lost the lease on execution {self.state.execution.id}")
            self.last_lease = now

    def _wait(self, now: float) -> list[sm.Event]:
        """Nothing to do right now: wait for an attempt, a timer, or a cache holder."""
        e = self.e
        timeout = self.timers.next_in(now)
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
        if self.admission.running or (children is not None and children.any_blocked()):
            results = e.executor.poll(timeout)
            now = e.clock.now()
            for r in results:
                if r.execution_id != self.state.execution.id:
                    continue  # a stale report from another drive sharing the executor
                self._release(r)
                events.append(_finished_event(r, now))
            if children is not None:
                children.receive(events)
        elif timeout is not None:
            e.clock.sleep(timeout)
            now = e.clock.now()
        elif not self.cache_waits and not self.signal_waits and not waiting_on_policy:
            raise RuntimeError(
                f"execution {self.state.execution.id} is stuck: nothing running, queued or due"
            )
        for nid in self.timers.due(now):
            events.append(sm.RetryDue(nid, now))
        self._check_signals(events)
        if self.cache_waits:
            waits = list(self.cache_waits.values())
            self.cache_waits.clear()
            for cmd in waits:
                self._lookup(cmd, events)
        return events

    def _carry_out(self, cmd: sm.Command, events: list[sm.Event]) -> None:
        e, state = self.e, self.state
        if isinstance(cmd, sm.StartAttempt):
            e.executor.submit(self.attempt_request(cmd))
        elif isinstance(cmd, sm.LookupCache):
            self._lookup(cmd, events)
        elif isinstance(cmd, ExpandMap):
            events.append(self._expand_map(cmd))
        elif isinstance(cmd, WatchSignal):
            self.signal_waits[cmd.node_id] = cmd.name
            self._check_signals(events)
        elif isinstance(cmd, sm.ScheduleRetry):
            self.timers.push(cmd.at, cmd.node_id)
        elif isinstance(cmd, sm.CancelAttempt):
            e.executor.cancel(state.execution.id, cmd.node_id)
            self.admission.release(cmd.node_id)
        elif isinstance(cmd, sm.ReleaseCache):
            if cmd.key in self.reserved:
                e.meta.release_cache(cmd.key, self._cache_owner())
                self.reserved.discard(cmd.key)
        elif isinstance(cmd, sm.Finished):
            self.finished = True
            for key in list(self.reserved):
                e.meta.release_cache(key, self._cache_owner())
            self.reserved.clear()

    def _check_signals(self, events: list[sm.Event]) -> None:
        if not self.signal_waits:
            return
        from airfoil.engine.signals import received_signals

        # One read of the control inbox for every waiting gate (server-engine's store seam).
        sent = received_signals(self.e.meta, self.state.execution.id)
        for nid, name in list(self.signal_waits.items()):
            if self.state.records[nid].phase != "running":
                del self.signal_waits[nid]
                continue
            value = sent.get(name)
            if value is not None:
                del self.signal_waits[nid]
                events.append(sm.SignalReceived(nid, value, self.e.clock.now()))

    def _expand_map(self, cmd: ExpandMap) -> sm.MapExpanded:
        """Split a map's list inputs into per-item inputs."""
        from airfoil.core.errors import NotFoundError, TypeTransformError
        from airfoil.types import ValueContext

        now = self.e.clock.now()
        ctx = ValueContext(blobs=self.e.blobs)
        try:
            lists = {name: self.e.types.split_list(cmd.inputs[name], ctx) for name in cmd.mapped}
        except (TypeTransformError, NotFoundError) as exc:
            return sm.MapExpanded(cmd.node_id, None, str(exc), now)
        lengths = {name: len(v) for name, v in lists.items()}
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{k} has {n}" for k, n in lengths.items())
            return sm.MapExpanded(
                cmd.node_id, None, f"mapped inputs have different lengths: {detail}", now
            )
        n = next(iter(lengths.values()), 0)
        fixed = {k: v for k, v in cmd.inputs.items() if k not in lists}
        items = [{**fixed, **{k: lists[k][i] for k in lists}} for i in range(n)]
        return sm.MapExpanded(cmd.node_id, items, "", now)

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
        now = e.clock.now()
        entry = e.meta.get_cache(cmd.key)
        if entry is not None:
            unusable = unusable_outputs(entry, e.blobs)  # missing or corrupt blobs
            if unusable is not None:
                e.meta.delete_cache(key=cmd.key)
                events.append(sm.CacheLooked(cmd.node_id, None, unusable, now))
                return
            src = f"execution {entry.execution_id} node {entry.node_id}"
            events.append(
                sm.CacheLooked(cmd.node_id, entry, f"same version and inputs as {src}", now)
            )
            return
        if cmd.serialize:
            holder = e.meta.reserve_cache(
                cmd.key, self._cache_owner(), now, e.settings.cache_reservation_ttl_s
            )
            if holder != self._cache_owner():
                self.cache_waits[cmd.node_id] = cmd  # another attempt computes it: wait
                return
            self.reserved.add(cmd.key)
        previous = e.meta.find_cache_by_task(cmd.parts.task, limit=10)
        events.append(sm.CacheLooked(cmd.node_id, None, explain_miss(cmd.parts, previous), now))


def _finished_event(r: AttemptResult, now: float) -> sm.AttemptFinished:
    return sm.AttemptFinished(
        node_id=r.node_id,
        attempt=r.attempt,
        outputs=r.outputs,
        error=r.error,
        started_at=r.started_at,
        now=max(now, r.ended_at),
        log_uri=r.log_uri,
        worker=r.worker,
    )
