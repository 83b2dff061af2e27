"""The run state machine: events in, commands out, no I/O.

``RunState.handle(event)`` updates node records in memory, appends to the event log and
returns the commands the driver must carry out. Every record change is collected in a
pending :class:`~airfoil.core.records.StoreBatch`; the driver takes it with
:meth:`RunState.take_batch` and commits it *before* carrying out the commands, so no action is
ever taken on a state that is not durable. Model: distributed's ``WorkerState``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from airfoil.core.collections import dict_value, list_value
from airfoil.core.phases import AttemptPhase, CacheStatus, ExecutionPhase, NodeKind
from airfoil.core.phases import NodePhase as N
from airfoil.core.records import (
    AttemptRecord,
    Binding,
    ExecutionRecord,
    NodeRecord,
    StoreBatch,
    Value,
)
from airfoil.engine import transitions as tr
from airfoil.engine._attempts import TaskAttemptsMixin
from airfoil.engine._commands import (
    PREEMPTED,
    CancelAttempt,
    Enqueue,
    ExpandMap,
    Finished,
    LookupCache,
    ReleaseCache,
    ScheduleRetry,
    StartAttempt,
    WatchSignal,
)
from airfoil.engine._constructs import CHILD, ConstructsMixin
from airfoil.engine._events import (
    Abort,
    Admit,
    AttemptFinished,
    CacheLooked,
    ChildCalled,
    Command,
    EngineFailed,
    Event,
    Launch,
    MapExpanded,
    Recover,
    RetryDue,
    SignalReceived,
    Start,
)
from airfoil.engine._handlers import HANDLER, FailureHandlersMixin
from airfoil.engine._mapping import MapMixin, MapState, fast_counts, split_item_id
from airfoil.engine._retry import RetryPolicy
from airfoil.engine.graph import FAILURE_INPUT, FlatNode, add_subgraph, flatten

__all__ = [
    "Abort",
    "AttemptFinished",
    "Admit",
    "CacheLooked",
    "CancelAttempt",
    "ChildCalled",
    "Command",
    "EngineFailed",
    "Event",
    "Enqueue",
    "ExpandMap",
    "Finished",
    "Launch",
    "MapExpanded",
    "PREEMPTED",
    "LookupCache",
    "Recover",
    "ReleaseCache",
    "RetryDue",
    "RetryPolicy",
    "RunState",
    "ScheduleRetry",
    "SignalReceived",
    "Start",
    "StartAttempt",
    "WatchSignal",
]


def _mapped(fn: FlatNode) -> tuple[str, ...]:
    assert fn.map is not None
    return fn.map.mapped


# Phase values read on every node (an enum's ``.value`` is a Python-level property call).
_PENDING = N.PENDING.value
_MISS, _DISABLED = CacheStatus.MISS.value, CacheStatus.DISABLED.value


class RunState(TaskAttemptsMixin, ConstructsMixin, MapMixin, FailureHandlersMixin):
    """The state of one execution, driven by events."""

    def __init__(
        self,
        execution: ExecutionRecord,
        nodes: dict[str, NodeRecord] | None = None,
        attempts: dict[tuple[str, int], AttemptRecord] | None = None,
        last_seq: int = 0,
        retry: RetryPolicy | None = None,
        graph: dict[str, FlatNode] | None = None,
    ) -> None:
        self.execution = execution
        self.graph: dict[str, FlatNode] = graph if graph is not None else flatten(execution.spec)
        self.retry = retry or RetryPolicy()
        self.seq = last_seq
        self.records: dict[str, NodeRecord] = nodes or {}
        self.attempts: dict[tuple[str, int], AttemptRecord] = {}
        self.maps: dict[str, MapState] = {}
        self.calls_by: dict[str, list[str]] = {}  # caller -> its calls' nodes (this drive)
        self._failing_calls = {}  # called workflows failing (see ConstructsMixin)
        self._item_running: dict[str, AttemptRecord] = {}
        self._item_history: dict[str, list[AttemptRecord]] = {}
        self._dirty_maps: set[str] = set()
        self._read_only: set[str] = set()  # nodes whose results the cache scope may not take
        for key, att in (attempts or {}).items():
            parsed = split_item_id(att.node_id)
            if parsed is None:
                self.attempts[key] = att
            else:
                self._item_history.setdefault(parsed[0], []).append(att)
        self._batch = StoreBatch()
        #: the event-log entry that caused what is being recorded now (see ``handle``)
        self._cause = 0
        #: node id ("" for the execution) -> its latest entry written by the current event
        self._touched: dict[str, int] = {}
        self._dirty_nodes: dict[str, NodeRecord] = {}
        self._dirty_attempts: dict[tuple[str, int], AttemptRecord] = {}
        self._exec_dirty = False
        for rec in self.records.values():  # graphs built by dynamic nodes (on resume)
            if rec.dynamic_spec is not None and rec.node_id in self.graph:
                add_subgraph(self.graph, rec.node_id, rec.dynamic_spec)
        #: each node kind's handler when its inputs are ready: functions, not bound methods
        #: (a table of those made every RunState a cycle, kept until a full collection)
        self._on_ready: dict[NodeKind, Callable[[RunState, str, float], list[Command]]] = {
            NodeKind.TASK: RunState._ready_task,
            NodeKind.CHILD: RunState._ready_task,
            NodeKind.WORKFLOW: RunState._finish_subworkflow,
            NodeKind.BRANCH: RunState._decide,
            NodeKind.GATE: RunState._start_gate,
            NodeKind.MAP: RunState._ready_map,
        }
        self.dependents: dict[str, list[str]] = {nid: [] for nid in self.graph}
        for nid, fn in self.graph.items():
            for up in fn.upstream:
                self.dependents[up].append(nid)
        self._waiting: dict[str, int] = {}
        #: producer -> conditionals whose taken case's outputs read it (see FlatCase.waits)
        self._case_waiters: dict[str, list[str]] = {}
        self._index_case_waits(self.graph)
        for nid, fn in self.graph.items():
            if nid not in self.records:
                self.records[nid] = NodeRecord(
                    execution_id=execution.id,
                    node_id=nid,
                    phase=_PENDING,
                    kind=fn.kind,
                    task=fn.name,
                    parent=fn.parent,
                    cache_status=(
                        _MISS if fn.task is not None and fn.task.cache.enabled else _DISABLED
                    ),
                )
                self._dirty_nodes[nid] = self.records[nid]
        for nid, fn in self.graph.items():
            self._waiting[nid] = sum(1 for u in fn.upstream if self.records[u].phase != N.SUCCEEDED)
        self._init_handlers()
        self._open = sum(
            1
            for r in self.records.values()
            if r.phase not in tr.TERMINAL_PHASES
            and not self._dormant(r.node_id)
            and r.kind != CHILD
            and r.node_id in self.graph  # not under a called workflow (until called again)
        )

    # --- bookkeeping ---------------------------------------------------------------------

    def _index_case_waits(self, nids: Iterable[str]) -> None:
        for nid in nids:
            for case in self.graph[nid].cases:
                for producer in case.waits:
                    self._case_waiters.setdefault(producer, []).append(nid)

    def item_running(self, name: str, attempt: int) -> bool:
        """Whether attempt ``attempt`` of map item ``name`` is running."""
        att = self._item_running.get(name)
        return att is not None and att.attempt == attempt

    @property
    def phase(self) -> ExecutionPhase:
        return tr.EXECUTION_PHASE_OF[self.execution.phase]

    def take_batch(self, *, map_counts: bool = True) -> StoreBatch:
        """The record changes made since the last call; commit them before acting.

        A running map's per-phase counts (derived from its items, rebuilt on resume) are
        brought up to date only with ``map_counts`` or when its node record is written
        anyway: keeping them current item by item would write the map node every item."""
        for nid in list(self._dirty_maps) if map_counts or self._dirty_nodes else ():
            if map_counts or nid in self._dirty_nodes:
                rec = self.records[nid]
                rec.map_counts = fast_counts(self.maps[nid])
                rec.attempts = sum(self.maps[nid].attempts)
                self._dirty_nodes[nid] = rec
                self._dirty_maps.discard(nid)
        batch = self._batch
        if not (self._dirty_nodes or self._dirty_attempts or self._exec_dirty or batch):
            return batch  # nothing changed (a loop turn that only waits): no new batch
        batch.nodes = list(self._dirty_nodes.values())
        batch.attempts = list(self._dirty_attempts.values())
        if self._exec_dirty:
            batch.execution = self.execution
        self._batch = StoreBatch()
        self._dirty_nodes = {}
        self._dirty_attempts = {}
        self._exec_dirty = False
        return batch

    # --- value resolution (pure) -----------------------------------------------------------

    def resolve(self, b: Binding) -> Value:
        """The value a binding has now (its producers must have succeeded)."""
        if b.kind == "literal":
            assert b.value is not None
            return b.value
        if b.kind == "input":
            if b.name == FAILURE_INPUT:
                return self._failure_of(b)
            return self.execution.inputs[b.name]
        if b.kind == "output":
            outputs = self.records[b.node].outputs or {}
            return outputs[b.name]
        items = [self.resolve(i) for i in b.items]
        if b.kind == "list":
            return list_value(items)
        return dict_value(list(b.keys), items)

    # --- the machine -----------------------------------------------------------------------

    def handle(self, event: Event) -> list[Command]:
        """Apply one event; return the commands to carry out (after committing the batch).

        Cause ids: each event-log entry written here names the entry that caused it
        (``EventRecord.cause_id``): at first the event's own ``cause``; once the event has
        recorded its result (an attempt's outcome, a cache lookup's, a node's end) the entries
        that follow from that result name it. Each command returned carries the entry it
        follows from (``_stamp``), which the driver hands to the event it produces.
        """
        self._cause = event.cause
        self._touched = {}
        cmds = self._dispatch(event)
        if cmds:
            self._stamp(cmds)
        return cmds

    def _dispatch(self, event: Event) -> list[Command]:
        name = getattr(event, "node_id", None)
        item = split_item_id(name) if name else None
        if item is not None:
            return self._handle_item(item[0], item[1], event)
        if isinstance(event, Start):
            return self._start(event.now)
        if isinstance(event, Launch):
            self._exec_dirty = True
            self._event("execution", ExecutionPhase.QUEUED.value, "launched", event.now)
            return []
        if isinstance(event, Recover):
            self._recover(event)
            return []
        if isinstance(event, CacheLooked):
            return self._cache_looked(event)
        if isinstance(event, Admit):
            return self._admit(event.node_id, event.now)
        if isinstance(event, AttemptFinished):
            return self._attempt_finished(event)
        if isinstance(event, RetryDue):
            if self.graph[event.node_id].kind == NodeKind.GATE:
                return self._gate_timer(event.node_id, event.now)
            return self._retry_due(event.node_id, event.now)
        if isinstance(event, ChildCalled):
            return self._child_called(event)
        if isinstance(event, SignalReceived):
            return self._gate_signal(event.node_id, event.value, event.now)
        if isinstance(event, Abort):
            return self._abort(event.reason, event.now, ExecutionPhase.ABORTED)
        if isinstance(event, EngineFailed):
            self.execution.error = event.error
            if HANDLER in self.records and self.records[HANDLER].phase == N.PENDING:
                self._move(HANDLER, N.SKIPPED, "the engine failed", event.now)
            return self._abort(event.error.message, event.now, ExecutionPhase.FAILED)
        if isinstance(event, MapExpanded):
            return self._map_expanded(event.node_id, event.items, event.error, event.now)
        raise TypeError(f"unknown event {event!r}")

    def _handle_item(self, nid: str, i: int, event: Event) -> list[Command]:
        if self.execution.phase in tr.TERMINAL_EXECUTION_VALUES:
            return []
        if isinstance(event, Admit):
            return self._item_admit(nid, i, event.node_id, event.now)
        if isinstance(event, AttemptFinished):
            return self._item_finished(nid, i, event)
        if isinstance(event, CacheLooked):
            return self._item_cache_looked(nid, i, event.entry, event.now, event.writable)
        if isinstance(event, RetryDue):
            return self._item_retry_due(nid, i, event.now)
        raise TypeError(f"unknown item event {event!r}")

    def _start(self, now: float) -> list[Command]:
        cmds: list[Command] = []
        if self.execution.phase in tr.TERMINAL_EXECUTION_VALUES:
            return [Finished(self.phase)]
        self._set_execution(ExecutionPhase.RUNNING, "started", now)
        self._caused_by("")  # what a resume does follows from the (re)start
        # Resume work is decided on the phases found, not on phases this event sets (a node
        # a conditional just queued must not be looked up a second time).
        found = {nid: self.records[nid].phase for nid in self.graph}
        for nid, fn in list(self.graph.items()):
            if self.execution.phase in tr.TERMINAL_EXECUTION_VALUES:
                break  # a lost attempt failed the execution
            rec = self.records[nid]
            phase = N(found[nid])
            if rec.phase != found[nid]:
                continue  # already moved by this event
            if self._waiting[nid] == 0 and self._startable(nid):
                cmds += self._ready(nid, now)
            elif phase == N.QUEUED and fn.kind == NodeKind.MAP:
                cmds.append(ExpandMap(nid, dict(rec.inputs or {}), _mapped(fn)))
            elif phase == N.RUNNING and fn.kind == NodeKind.MAP:
                self._move(nid, N.QUEUED, "resumed: items are replayed", now)
                cmds.append(ExpandMap(nid, dict(rec.inputs or {}), _mapped(fn)))
            elif phase == N.QUEUED:
                cmds += self._lookup_or_enqueue(nid, fn, now)
            elif phase == N.RUNNING and fn.kind == NodeKind.TASK and rec.dynamic_spec is None:
                cmds += self._resume_lost(nid, fn, now)
            elif phase == N.RETRYING:
                cmds.append(ScheduleRetry(nid, rec.retry_at or now))
            elif phase == N.RUNNING and fn.kind == NodeKind.BRANCH:
                cmds += self._maybe_finish_branch(nid, now)
            elif phase == N.RUNNING and fn.kind == NodeKind.GATE:
                cmds += self._gate_waits(nid)
        cmds += self._maybe_finish(now)
        return cmds

    def _recover(self, ev: Recover) -> None:
        for prev in ev.succeeded:
            rec = self.records.get(prev.node_id)
            if rec is None:
                continue
            rec.phase = N.SUCCEEDED.value
            rec.outputs, rec.inputs = prev.outputs, prev.inputs
            rec.cache_status, rec.cache_reason = prev.cache_status, prev.cache_reason
            rec.branch_taken, rec.map_counts = prev.branch_taken, prev.map_counts
            rec.started_at, rec.ended_at, rec.attempts = prev.started_at, prev.ended_at, 0
            self._dirty_nodes[prev.node_id] = rec
            self._event(
                "node", N.SUCCEEDED.value, f"recovered from {ev.source}", ev.now, node=rec.node_id
            )
        for a in ev.items:
            att = AttemptRecord(
                execution_id=self.execution.id,
                node_id=a.node_id,
                attempt=a.attempt,
                phase=a.phase,
                started_at=a.started_at,
                ended_at=a.ended_at,
                outputs=a.outputs,
                worker=a.worker,
                log_uri=a.log_uri,
            )
            self._dirty_attempts[(a.node_id, a.attempt)] = att
            parsed = split_item_id(a.node_id)
            if parsed is not None:
                self._item_history.setdefault(parsed[0], []).append(att)

    def _startable(self, nid: str) -> bool:
        """Pending (or a subworkflow shown as running while its children ran), and not under
        a conditional case that has not been taken."""
        fn = self.graph[nid]
        if self._dormant(nid):
            return False
        for branch, case in fn.gates:
            brec = self.records[branch]
            if brec.phase != N.RUNNING or brec.branch_taken != case:
                return False
        phase = self.records[nid].phase
        return phase == N.PENDING or (
            phase == N.RUNNING
            and (fn.kind == NodeKind.WORKFLOW or self.records[nid].dynamic_spec is not None)
        )

    def _ready(self, nid: str, now: float) -> list[Command]:
        """A node's inputs are ready: hand it to its kind's handler."""
        if self.records[nid].dynamic_spec is not None:
            return self._finish_dynamic(nid, now)  # a dynamic node whose graph ran
        return self._on_ready[self.graph[nid].kind](self, nid, now)

    def _ready_task(self, nid: str, now: float) -> list[Command]:
        fn = self.graph[nid]
        rec = self.records[nid]
        rec.inputs = {k: self.resolve(b) for k, b in fn.inputs.items()}
        self._move(nid, N.QUEUED, "inputs ready", now)
        return self._lookup_or_enqueue(nid, fn, now)

    def _ready_map(self, nid: str, now: float) -> list[Command]:
        fn = self.graph[nid]
        rec = self.records[nid]
        rec.inputs = {k: self.resolve(b) for k, b in fn.inputs.items()}
        self._move(nid, N.QUEUED, "inputs ready", now)
        return [ExpandMap(nid, dict(rec.inputs), _mapped(fn))]

    def _succeeded(self, nid: str, now: float) -> list[Command]:
        cmds: list[Command] = []
        self._caused_by(nid)  # what follows is caused by the node's success
        cause = self._cause
        for dep in self.dependents[nid]:
            self._waiting[dep] -= 1
            if self._waiting[dep] == 0 and self._startable(dep):
                self._cause = cause
                cmds += self._ready(dep, now)
        self._cause = cause
        fn = self.graph[nid]
        if fn.parent and self.graph[fn.parent].kind == NodeKind.BRANCH:
            cmds += self._maybe_finish_branch(fn.parent, now)
        for branch in self._case_waiters.get(nid, ()):
            cmds += self._maybe_finish_branch(branch, now)
        cmds += self._fail_finished_calls(nid, now) if self._failing_calls else []
        return cmds + self._maybe_finish(now)

    def _finish_subworkflow(self, nid: str, now: float) -> list[Command]:
        fn = self.graph[nid]
        rec = self.records[nid]
        rec.inputs = {k: self.resolve(b) for k, b in fn.inputs.items()}
        rec.outputs = {k: self.resolve(b) for k, b in fn.outputs.items()}
        self._move(nid, N.SUCCEEDED, "all children succeeded", now)
        self._skip_sub_handler(nid, now)
        return self._succeeded(nid, now)

    def _node_failed(self, nid: str, now: float) -> list[Command]:
        rec = self.records[nid]
        self._caused_by(nid)  # what follows is caused by the node's failure
        stopped = self._stop_calls(nid, now)  # the calls it left running end with it
        if rec.kind == CHILD:
            return stopped  # the calling task gets the exception and decides
        root = self._call_root(nid)
        if root:  # under a workflow a running task called: its caller decides
            return stopped + self._called_graph_failed(root, nid, now)
        # A failed child fails its subworkflow nodes (which run their own handlers).
        cmds: list[Command] = stopped
        parent = self.graph[nid].parent
        while parent:
            prec = self.records[parent]
            if prec.phase not in tr.TERMINAL_PHASES:
                prec.error = rec.error
                self._move(parent, N.FAILED, f"child {nid} failed", now)
                cmds += self._release_dynamic(parent) + self._start_sub_handler(parent, now)
            parent = self.graph[parent].parent
        if self.execution.spec.failure_policy == "fail_immediately":
            if (nid != HANDLER and not self.graph[nid].handles) or self.execution.error is None:
                self.execution.error = rec.error
            return cmds + self._abort(f"node {nid} failed", now, ExecutionPhase.FAILED, nid)
        stack = list(self.dependents[nid])
        while stack:
            dep = stack.pop()
            drec = self.records[dep]
            if drec.phase == N.PENDING:
                self._move(dep, N.SKIPPED, f"upstream {nid} failed", now)
                stack.extend(self.dependents[dep])
        for branch in self._case_waiters.get(nid, ()):
            brec = self.records[branch]
            if brec.phase == N.RUNNING and nid in self._taken_case_waits(branch):
                brec.error = rec.error
                self._move(branch, N.FAILED, f"{nid}, whose output the case returns, failed", now)
                cmds += self._node_failed(branch, now)
        if self.execution.error is None:
            self.execution.error = rec.error
        return cmds + self._maybe_finish(now)

    def _abort(
        self, reason: str, now: float, phase: ExecutionPhase, failed: str = ""
    ) -> list[Command]:
        if self.execution.phase in tr.TERMINAL_EXECUTION_VALUES:
            return []
        cmds: list[Command] = []
        handler_runs = phase == ExecutionPhase.FAILED and (
            HANDLER in self.records and self.records[HANDLER].phase == N.PENDING
        )
        for nid, rec in self.records.items():
            p = N(rec.phase)
            if p.terminal or (nid == HANDLER and handler_runs):
                continue  # (child calls of an earlier drive, not in the graph, stop too)
            if phase == ExecutionPhase.FAILED and nid in self._failures and nid != HANDLER:
                continue  # a subworkflow's handler that runs
            cmds += self._abort_node(nid, reason, now)
        if failed and self.execution.error is None:
            self.execution.error = self.records[failed].error
        if phase == ExecutionPhase.FAILED and self._sub_handlers_running():
            return cmds  # the top-level handler (or the end) follows them (_maybe_finish)
        if handler_runs:
            started = self._run_failure_handler(now)
            if started is not None:
                return [*cmds, *started, *self._maybe_finish(now)]
        self._set_execution(phase, reason, now)
        return [*cmds, Finished(phase)]

    def _abort_node(self, nid: str, reason: str, now: float) -> list[Command]:
        """Stop one unfinished node: cancel its running attempt (or map items). A child
        call made in an earlier drive is in no graph (until it is called again)."""
        rec = self.records[nid]
        cmds: list[Command] = []
        fn = self.graph.get(nid)
        kind = fn.kind if fn is not None else None
        if rec.phase == N.RUNNING and kind == NodeKind.MAP:
            cmds += self._map_abort_items(nid, now)
        att = self.attempts.get((nid, rec.attempts))
        running = att is not None and att.phase == AttemptPhase.RUNNING.value
        if rec.phase == N.RUNNING and (kind == NodeKind.TASK or (fn is None and running)):
            cmds.append(CancelAttempt(nid))
            if att is not None and running:
                att.phase = AttemptPhase.ABORTED.value
                att.ended_at = now
                self._dirty_attempts[(nid, rec.attempts)] = att
        self._move(nid, N.ABORTED, reason, now)
        return cmds

    def _maybe_finish(self, now: float) -> list[Command]:
        if self.execution.phase in tr.TERMINAL_EXECUTION_VALUES:
            return []
        if self._open > 0:
            return []
        bad = (N.FAILED.value, N.ABORTED.value)
        if not any(r.phase in bad and not self._contained(r) for r in self.records.values()):
            if HANDLER in self.records and self.records[HANDLER].phase == N.PENDING:
                self._open += 1  # never counted open: skipping it must not close another
                self._move(HANDLER, N.SKIPPED, "the execution succeeded: nothing to handle", now)
            self.execution.outputs = {
                k: self.resolve(b) for k, b in self.execution.spec.outputs.items()
            }
            self._set_execution(ExecutionPhase.SUCCEEDED, "all nodes succeeded", now)
            return [Finished(ExecutionPhase.SUCCEEDED)]
        started = self._run_failure_handler(now)
        if started is not None:
            return started
        self._set_execution(ExecutionPhase.FAILED, "some nodes failed", now)
        return [Finished(ExecutionPhase.FAILED)]
