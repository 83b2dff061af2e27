"""Conditionals, gates, dynamic graphs and the child nodes of tasks called by running tasks,
in the run state machine (a mixin of :class:`~airfoil.engine.state.RunState`; pure, like the
rest of it)."""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import msgspec

from airfoil.core.phases import AttemptPhase, CacheStatus, ErrorKind, GateKind, NodeKind
from airfoil.core.phases import NodePhase as N
from airfoil.core.records import (
    Binding,
    Condition,
    ErrorInfo,
    NodeRecord,
    Value,
    WorkflowSpec,
)
from airfoil.engine._commands import (
    DRIVER_LOST,
    ReleaseCache,
    ScheduleRetry,
    WatchSignal,
    driver_lost,
)
from airfoil.engine._mapping import cache_put, split_item_id
from airfoil.engine._recording import CHILD, RunRecorder
from airfoil.engine.graph import FlatNode, add_subgraph

__all__ = ["CHILD", "ConstructsMixin"]

Command = Any

_OPS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class ConstructsMixin(RunRecorder):
    """Conditionals (decide a case, skip the others), gates (timers and signals), dynamic
    nodes (add the graph a body built as children) and child calls (add a called task's
    node under its caller)."""

    dependents: dict[str, list[str]]
    _waiting: dict[str, int]
    #: caller's graph node -> the child nodes of calls its attempts made (in this drive)
    calls_by: dict[str, list[str]]
    #: called workflows (finish_what_can_run) with a failed node, still running: its error
    _failing_calls: dict[str, ErrorInfo | None]

    if TYPE_CHECKING:

        @property
        def phase(self) -> Any: ...
        def resolve(self, b: Binding) -> Value: ...
        def _succeeded(self, nid: str, now: float) -> list[Any]: ...
        def _node_failed(self, nid: str, now: float) -> list[Any]: ...
        def _startable(self, nid: str) -> bool: ...
        def _ready(self, nid: str, now: float) -> list[Any]: ...
        def _finish_subworkflow(self, nid: str, now: float) -> list[Any]: ...
        def _lookup_or_enqueue(self, nid: str, fn: FlatNode, now: float) -> list[Any]: ...
        def _index_case_waits(self, nids: Iterable[str]) -> None: ...
        def _abort_node(self, nid: str, reason: str, now: float) -> list[Any]: ...
        def _maybe_finish(self, now: float) -> list[Any]: ...

    _read_only: set[str]  # nodes that may read their task's cache scope, not write it

    def _gate_waits(self, nid: str) -> list[Command]:
        """The timer and signal watch of a running gate (again after a restart: the
        deadline counts from when the gate started)."""
        gate = self.graph[nid].gate
        assert gate is not None
        started = self.records[nid].started_at or 0.0
        cmds: list[Command] = []
        if gate.kind == GateKind.SLEEP:
            cmds.append(ScheduleRetry(nid, started + gate.duration_s))
        else:
            if gate.timeout_s is not None:
                cmds.append(ScheduleRetry(nid, started + gate.timeout_s))
            cmds.append(WatchSignal(nid, gate.name))
        return cmds

    def _start_gate(self, nid: str, now: float) -> list[Command]:
        fn = self.graph[nid]
        gate = fn.gate
        assert gate is not None
        rec = self.records[nid]
        rec.inputs = {k: self.resolve(b) for k, b in fn.inputs.items()}
        cause = (
            f"sleeping {gate.duration_s:g}s"
            if gate.kind == GateKind.SLEEP
            else f"waiting for signal {gate.name!r}"
        )
        self._move(nid, N.RUNNING, cause, now)
        return self._gate_waits(nid)

    def _gate_timer(self, nid: str, now: float) -> list[Command]:
        rec = self.records[nid]
        gate = self.graph[nid].gate
        if rec.phase != N.RUNNING.value or gate is None or self.phase.terminal:
            return []
        if gate.kind == GateKind.SLEEP:
            rec.outputs = {}
            self._move(nid, N.SUCCEEDED, "slept", now)
            return self._succeeded(nid, now)
        rec.error = ErrorInfo(
            kind=ErrorKind.USER,
            type="GateTimeoutError",
            message=f"no signal {gate.name!r} within {gate.timeout_s:g}s",
        )
        self._move(nid, N.FAILED, f"signal {gate.name!r} timed out", now)
        return self._node_failed(nid, now)

    def _gate_signal(self, nid: str, value: Value, now: float) -> list[Command]:
        rec = self.records[nid]
        gate = self.graph[nid].gate
        if rec.phase != N.RUNNING.value or gate is None or self.phase.terminal:
            return []
        if gate.kind == GateKind.APPROVE:
            approved = value.inline is not None and msgspec.json.decode(value.inline) is True
            if not approved:
                rec.error = ErrorInfo(
                    kind=ErrorKind.USER,
                    type="GateRejectedError",
                    message=f"{gate.name!r} was rejected",
                )
                self._move(nid, N.FAILED, f"{gate.name!r} rejected", now)
                return self._node_failed(nid, now)
            rec.outputs = {"o0": (rec.inputs or {})["value"]}
            self._move(nid, N.SUCCEEDED, f"{gate.name!r} approved", now)
        else:
            rec.outputs = {"o0": value}
            self._move(nid, N.SUCCEEDED, f"signal {gate.name!r} received", now)
        return self._succeeded(nid, now)

    def _operand(self, b: Binding) -> Any:
        value = self.resolve(b)
        if value.format != "json" or value.inline is None:
            raise ValueError(f"a condition cannot read a value stored as {value.format}")
        data = msgspec.json.decode(value.inline)
        if isinstance(data, dict) and "$union" in data:
            data = data.get("value")
        return data

    def _evaluate(self, c: Condition) -> bool:
        if c.kind == "and":
            assert c.left is not None and c.right is not None
            return self._evaluate(c.left) and self._evaluate(c.right)
        if c.kind == "or":
            assert c.left is not None and c.right is not None
            return self._evaluate(c.left) or self._evaluate(c.right)
        assert c.lhs is not None
        left = self._operand(c.lhs)
        if c.kind == "is_true":
            return left is True
        if c.kind == "is_false":
            return left is False
        if c.kind == "is_none":
            return left is None
        assert c.rhs is not None
        right = self._operand(c.rhs)
        try:
            return bool(_OPS[c.op](left, right))
        except TypeError:
            raise ValueError(f"cannot evaluate {c}: {left!r} {c.op} {right!r}") from None

    def _decide(self, nid: str, now: float) -> list[Command]:
        """Pick the first case of a conditional whose condition holds; skip the others."""
        fn = self.graph[nid]
        rec = self.records[nid]
        try:
            chosen = next(
                i
                for i, case in enumerate(fn.cases)
                if case.condition is None or self._evaluate(case.condition)
            )
        except StopIteration:
            rec.error = ErrorInfo(
                kind=ErrorKind.USER,
                type="ConditionalError",
                message=f"no case of conditional {fn.label!r} holds, and it has no else_()",
            )
            self._move(nid, N.FAILED, "no case holds", now)
            return self._node_failed(nid, now)
        except ValueError as exc:
            rec.error = ErrorInfo(kind=ErrorKind.USER, type="ConditionalError", message=str(exc))
            self._move(nid, N.FAILED, "condition could not be evaluated", now)
            return self._node_failed(nid, now)
        case = fn.cases[chosen]
        rec.branch_taken = chosen
        self._move(nid, N.RUNNING, f"took case {chosen}: {case.label}", now)
        self._caused_by(nid)  # the skips and the taken case follow from the decision
        decision = self._cause
        for i, other in enumerate(fn.cases):
            if i != chosen:
                for child in other.children:
                    self._skip_tree(child, f"conditional {fn.label!r} took case {chosen}", now)
        if case.fail_message:
            rec.error = ErrorInfo(
                kind=ErrorKind.USER, type="ConditionalFail", message=case.fail_message
            )
            self._move(nid, N.FAILED, f"case {chosen} fails: {case.fail_message}", now)
            return self._node_failed(nid, now)
        cmds: list[Command] = []
        for other_id, gated in self.graph.items():
            if (
                (nid, chosen) in gated.gates
                and self._waiting[other_id] == 0
                and (self._startable(other_id))
            ):
                self._cause = decision
                cmds += self._ready(other_id, now)
        self._cause = decision
        return cmds + self._maybe_finish_branch(nid, now)

    def _skip_tree(self, nid: str, cause: str, now: float) -> None:
        if self.records[nid].phase == N.PENDING.value:
            self._move(nid, N.SKIPPED, cause, now)
        for child in self.graph[nid].children:
            self._skip_tree(child, cause, now)

    def _taken_case_waits(self, nid: str) -> frozenset[str]:
        """The outside producers the taken case of conditional ``nid`` waits on."""
        taken = self.records[nid].branch_taken
        return self.graph[nid].cases[taken].waits if taken >= 0 else frozenset()

    def _maybe_finish_branch(self, nid: str, now: float) -> list[Command]:
        rec = self.records[nid]
        if rec.phase != N.RUNNING.value or rec.branch_taken < 0:
            return []
        case = self.graph[nid].cases[rec.branch_taken]
        if any(self.records[c].phase != N.SUCCEEDED.value for c in case.children):
            return []
        if any(self.records[w].phase != N.SUCCEEDED.value for w in case.waits):
            return []  # a promise made outside the case is still being produced
        rec.outputs = {k: self.resolve(b) for k, b in case.outputs.items()}
        self._move(nid, N.SUCCEEDED, f"case {rec.branch_taken} finished", now)
        return self._succeeded(nid, now)

    def _expand_dynamic(
        self, nid: str, built: Value | None, now: float, ran_version: str = ""
    ) -> list[Command]:
        """Run the graph a dynamic node's body built, as the node's children.

        ``ran_version`` set, the body ran code edited after the launch: the graph's outputs
        are not cached under the launched version's key (see ``outputs_written``)."""
        rec = self.records[nid]
        if ran_version:
            rec.cache_key_parts = None
        try:
            assert built is not None and built.inline is not None
            spec = msgspec.json.decode(built.inline, type=WorkflowSpec)
        except (AssertionError, msgspec.DecodeError) as exc:
            rec.error = ErrorInfo(kind=ErrorKind.SYSTEM, type="DynamicGraphError", message=str(exc))
            self._move(nid, N.FAILED, "the dynamic graph could not be read", now)
            return self._node_failed(nid, now)
        rec.dynamic_spec = spec
        self._dirty_nodes[nid] = rec
        new = add_subgraph(self.graph, nid, spec)
        for cid in new:
            self.dependents[cid] = []
            self.records[cid] = NodeRecord(
                execution_id=self.execution.id,
                node_id=cid,
                phase=N.PENDING.value,
                kind=self.graph[cid].kind,
                task=self.graph[cid].name,
                parent=self.graph[cid].parent,
                cache_status=(
                    CacheStatus.MISS.value
                    if self.graph[cid].task is not None and self.graph[cid].task.cache.enabled  # type: ignore[union-attr]
                    else CacheStatus.DISABLED.value
                ),
            )
            self._dirty_nodes[cid] = self.records[cid]
            self._open += 1
        for cid in new:
            for up in self.graph[cid].upstream:
                self.dependents[up].append(cid)
        self._index_case_waits(new)
        for cid in self.graph[nid].upstream:
            if cid in new or cid.startswith(nid + "."):
                self.dependents[cid].append(nid)
        for cid in [*new, nid]:
            self._waiting[cid] = sum(
                1 for u in self.graph[cid].upstream if self.records[u].phase != N.SUCCEEDED.value
            )
        self._cause = self._event(
            "node",
            N.RUNNING.value,
            f"dynamic graph of {len(new)} nodes",
            now,
            node=nid,
            frm=N.RUNNING.value,
        )
        cmds: list[Command] = []
        for cid in [*new, nid]:
            if self._waiting[cid] == 0 and self._startable(cid):
                cmds += self._ready(cid, now)
        return cmds

    def _finish_dynamic(self, nid: str, now: float) -> list[Command]:
        """A dynamic node whose graph ran: its outputs are the graph's. A cached one
        (``@dynamic(cache=True)``) stores them under the key its inputs and code version made
        when it was looked up, as a task's attempt does: a later run with that key takes them
        without running the body or its graph."""
        fn, rec = self.graph[nid], self.records[nid]
        cached = fn.task is not None and fn.task.cache.enabled and rec.cache_key_parts is not None
        if cached and nid not in self._read_only:  # (a reader of the scope: not put)
            outputs = {k: self.resolve(b) for k, b in fn.outputs.items()}
            rec.cache_status = CacheStatus.PUT.value
            put = cache_put(
                rec.cache_key, rec.cache_key_parts, outputs, now, self.execution.id, nid
            )
            self._batch.cache_puts.append(put)
        return self._release_dynamic(nid) + self._finish_subworkflow(nid, now)

    def _release_dynamic(self, nid: str) -> list[Command]:
        """A serialized cached dynamic holds its key until its graph finished (one body and
        graph run; the same key's other runs wait, then hit)."""
        task, rec = self.graph[nid].task, self.records[nid]
        if task is None or not (task.cache.enabled and task.cache.serialize) or not rec.cache_key:
            return []
        return [ReleaseCache(rec.cache_key)]

    def _attempt_lost(self, nid: str, now: float) -> ErrorInfo | None:
        """The driver that ran the node's last attempt is gone: the attempt is lost.

        Returns the loss's error if it counts against the system retries (see
        :func:`~airfoil.engine._commands.driver_lost`), else None.
        """
        rec = self.records[nid]
        att = self.attempts.get((nid, rec.attempts))
        if att is None or att.phase != AttemptPhase.RUNNING.value:
            return None
        streak = 0
        for n in range(rec.attempts - 1, 0, -1):
            prev = self.attempts.get((nid, n))
            if prev is None or prev.error is None or prev.error.type != DRIVER_LOST:
                break
            streak += 1
        att.phase = AttemptPhase.LOST.value
        att.ended_at = now
        att.error, charged = driver_lost(streak)
        self._dirty_attempts[(nid, rec.attempts)] = att
        self._event("attempt", att.phase, "driver lost", now, node=nid, attempt=rec.attempts)
        return att.error if charged else None

    def _child_called(self, ev: Any) -> list[Command]:
        """Add (or re-arm) the child node of a call made by a running task."""
        if ev.workflow is not None:
            return self._workflow_called(ev)
        nid = ev.node_id
        if nid not in self.graph:
            # A map item is no graph node: its children hang under the map node in the graph
            # (their records still name the item as their parent).
            item = split_item_id(ev.parent)
            parent = item[0] if item is not None and ev.parent not in self.graph else ev.parent
            self.graph[nid] = FlatNode(
                id=nid, kind=NodeKind.TASK, inputs={}, upstream=set(), task=ev.task, parent=parent
            )
            self.calls_by.setdefault(parent, []).append(nid)
            self.dependents[nid] = []
            self._waiting[nid] = 0
        rec = self.records.get(nid)
        if rec is not None and rec.phase == N.SUCCEEDED.value:
            return []  # finished in an earlier attempt of the caller: not run again
        if rec is not None and rec.phase == N.RUNNING.value:
            self._attempt_lost(nid, ev.now)  # ran under a driver that crashed
        if rec is None or rec.phase != N.PENDING.value:  # new, failed, or lost in a crash
            rec = NodeRecord(
                execution_id=self.execution.id,
                node_id=nid,
                phase=N.PENDING.value,
                kind=CHILD,
                task=ev.task.name,
                parent=ev.parent,
                attempts=rec.attempts if rec is not None else 0,
                cache_status=(
                    CacheStatus.MISS.value if ev.task.cache.enabled else CacheStatus.DISABLED.value
                ),
            )
            self.records[nid] = rec
        rec.inputs = dict(ev.inputs)
        self._move(nid, N.QUEUED, f"called by {ev.parent}", ev.now)
        return self._lookup_or_enqueue(nid, self.graph[nid], ev.now)

    # --- workflows called by running tasks ---------------------------------------------------

    def _workflow_called(self, ev: Any) -> list[Command]:
        """Add (or re-arm) the child node of a workflow a running task called: the node
        (kind ``child``, the workflow's spec as its ``dynamic_spec``) runs the workflow's
        nodes as its children, with the given inputs, and takes its outputs.

        Re-armed (the caller ran again after the child failed, or after a crash), the
        children that had succeeded keep their outputs; the others start again."""
        nid = ev.node_id
        spec: WorkflowSpec = ev.workflow
        if nid not in self.graph:
            item = split_item_id(ev.parent)
            parent = item[0] if item is not None and ev.parent not in self.graph else ev.parent
            given = {k: Binding(kind="literal", value=v) for k, v in ev.inputs.items()}
            self.graph[nid] = FlatNode(
                id=nid,
                kind=NodeKind.WORKFLOW,
                inputs=given,
                upstream=set(),
                parent=parent,
                label=spec.name,
            )
            self.calls_by.setdefault(parent, []).append(nid)
            self.dependents[nid] = []
            new = add_subgraph(self.graph, nid, spec, given)
            for cid in new:
                self.dependents[cid] = []
            for cid in new:
                for up in self.graph[cid].upstream:
                    self.dependents[up].append(cid)
            self._index_case_waits(new)
            for cid in self.graph[nid].upstream:
                self.dependents[cid].append(nid)
        rec = self.records.get(nid)
        if rec is not None and rec.phase == N.SUCCEEDED.value:
            return []  # finished in an earlier attempt of the caller: not run again
        self._failing_calls.pop(nid, None)
        self.records[nid] = NodeRecord(
            execution_id=self.execution.id,
            node_id=nid,
            phase=N.PENDING.value,
            kind=CHILD,
            task=spec.name,
            parent=ev.parent,
            inputs=dict(ev.inputs),
            dynamic_spec=spec,
        )
        self._dirty_nodes[nid] = self.records[nid]
        subtree = self._descendants(nid)
        for cid in subtree:
            old = self.records.get(cid)
            if old is not None and old.phase == N.SUCCEEDED.value:
                continue
            if old is not None and old.phase == N.RUNNING.value:
                self._attempt_lost(cid, ev.now)  # ran under a driver that crashed
            fn = self.graph[cid]
            cached = fn.task is not None and fn.task.cache.enabled
            self.records[cid] = NodeRecord(
                execution_id=self.execution.id,
                node_id=cid,
                phase=N.PENDING.value,
                kind=fn.kind,
                task=fn.name,
                parent=fn.parent,
                attempts=old.attempts if old is not None else 0,
                cache_status=CacheStatus.MISS.value if cached else CacheStatus.DISABLED.value,
            )
            self._dirty_nodes[cid] = self.records[cid]
            self._open += 1
        for cid in [*subtree, nid]:
            self._waiting[cid] = sum(
                1 for u in self.graph[cid].upstream if self.records[u].phase != N.SUCCEEDED.value
            )
        self._move(nid, N.RUNNING, f"called by {ev.parent}", ev.now)
        cmds: list[Command] = []
        for cid in [*subtree, nid]:
            if self._waiting[cid] == 0 and self._startable(cid):
                cmds += self._ready(cid, ev.now)
        return cmds

    def _descendants(self, nid: str) -> list[str]:
        """The graph nodes under ``nid`` (children, theirs, ...), parents first."""
        out: list[str] = []
        stack = list(reversed(self.graph[nid].children))
        while stack:
            cid = stack.pop()
            out.append(cid)
            stack.extend(reversed(self.graph[cid].children))
        return out

    def _call_root(self, nid: str) -> str:
        """The nearest child node (a called workflow, or a called dynamic task) above
        ``nid``, whose caller a failure under it goes to; "" if none."""
        parent = self.records[nid].parent
        while parent:
            prec = self.records.get(parent)
            if prec is None:
                return ""
            if prec.kind == CHILD:
                return parent
            parent = prec.parent
        return ""

    def _contained(self, rec: NodeRecord) -> bool:
        """Whether a failure of this node goes to a calling task, not to the execution."""
        return rec.kind == CHILD or bool(self._call_root(rec.node_id))

    def _called_graph_failed(self, root: str, nid: str, now: float) -> list[Command]:
        """A node under the child node ``root`` failed: the failure ends ``root`` (and the
        subworkflows between them) with its error and stops what still runs under it; the
        calling task gets the error and decides. The execution goes on."""
        err = self.records[nid].error
        parent = self.records[nid].parent
        while parent and parent != root:
            prec = self.records[parent]
            if not N(prec.phase).terminal:
                prec.error = err
                self._move(parent, N.FAILED, f"child {nid} failed", now)
            parent = prec.parent
        rrec = self.records[root]
        if N(rrec.phase).terminal:
            return []
        spec = rrec.dynamic_spec
        if (
            spec is not None
            and spec.failure_policy == "finish_what_can_run"
            and self.graph[root].kind == NodeKind.WORKFLOW
        ):
            # The called workflow's own policy: what depends on the failure is skipped, the
            # rest runs; the call fails (with the first error) once nothing under it runs.
            self._failing_calls.setdefault(root, err)
            stack = list(self.dependents[nid])
            while stack:
                dep = stack.pop()
                if self.records[dep].phase == N.PENDING.value:
                    self._move(dep, N.SKIPPED, f"upstream {nid} failed", now)
                    stack.extend(self.dependents[dep])
            return self._maybe_fail_call(root, now)
        cmds = self._abort_under(root, f"node {nid} of the called graph failed", now)
        rrec.error = err
        self._move(root, N.FAILED, f"node {nid} failed", now)
        return cmds + self._maybe_finish(now)

    def _fail_finished_calls(self, nid: str, now: float) -> list[Command]:
        """``nid`` succeeded: fail the failing called workflow it ran under if it was the
        last node running there."""
        root = self._call_root(nid)
        return self._maybe_fail_call(root, now) if root in self._failing_calls else []

    def _maybe_fail_call(self, root: str, now: float) -> list[Command]:
        rrec = self.records[root]
        if N(rrec.phase).terminal:  # (aborted with the run meanwhile)
            self._failing_calls.pop(root, None)
            return []
        stack = [root]
        while stack:
            nid = stack.pop()
            for cid in (*self.graph[nid].children, *self.calls_by.get(nid, ())):
                if not N(self.records[cid].phase).terminal:
                    return []  # still running: the call fails when it has ended
                stack.append(cid)
        rrec.error = self._failing_calls.pop(root)
        self._move(root, N.FAILED, "nodes of the called graph failed", now)
        return self._maybe_finish(now)

    def _abort_under(self, root: str, reason: str, now: float) -> list[Command]:
        """Stop every unfinished node under ``root``: a called graph's nodes, and the calls
        they (and ``root``) made, all the way down."""
        cmds: list[Command] = []
        stack = [root]
        while stack:
            nid = stack.pop()
            for cid in (*self.graph[nid].children, *self.calls_by.get(nid, ())):
                stack.append(cid)
                if not N(self.records[cid].phase).terminal:
                    cmds += self._abort_node(cid, reason, now)
        return cmds

    def _stop_calls(self, nid: str, now: float) -> list[Command]:
        """A node failed for good: the calls its attempts made that still run stop (no
        attempt of it is left to take their outcome; a retried caller waits for them)."""
        if nid not in self.calls_by:  # (most nodes call nothing)
            return []
        cmds: list[Command] = []
        reason = f"its caller {nid} failed"
        for cid in self.calls_by[nid]:
            if not N(self.records[cid].phase).terminal:
                cmds += self._abort_under(cid, reason, now)
                cmds += self._abort_node(cid, reason, now)
        return cmds
