"""A task node's attempts in the run state machine (a mixin of
:class:`~airfoil.engine.state.RunState`; pure, like the rest of it).

From queued to an outcome: the cache lookup (a hit succeeds the node, a miss enqueues it),
the admission that starts an attempt, the attempt's report (outputs and the cache entry they
make, or an error and the retry decision), the retry's due time, and the resume of an attempt
whose driver stopped. Map items have their own compact path (see ``_mapping``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airfoil.core.phases import AttemptPhase, CacheStatus
from airfoil.core.phases import NodePhase as N
from airfoil.core.records import (
    GRAPH_FORMAT,
    GRAPH_OUTPUT,
    AttemptRecord,
    Binding,
    ErrorInfo,
    Value,
)
from airfoil.engine import transitions as tr
from airfoil.engine._commands import Enqueue, LookupCache, ReleaseCache, ScheduleRetry, StartAttempt
from airfoil.engine._events import AttemptFinished, CacheLooked, Command
from airfoil.engine._mapping import cache_put
from airfoil.engine._recording import RunRecorder
from airfoil.engine._retry import RetryPolicy, decide_retry, failed_attempt_phase
from airfoil.engine.cache import cache_key, key_parts, outputs_written
from airfoil.engine.graph import FlatNode

__all__ = ["TaskAttemptsMixin"]

# Phase values read on every task (an enum's ``.value`` is a Python-level property call).
_RUNNING, _SUCCEEDED = AttemptPhase.RUNNING.value, AttemptPhase.SUCCEEDED.value


class TaskAttemptsMixin(RunRecorder):
    """Look up, admit, finish, retry and resume the attempts of task nodes."""

    retry: RetryPolicy
    _read_only: set[str]

    if TYPE_CHECKING:

        def resolve(self, b: Binding) -> Value: ...
        def _succeeded(self, nid: str, now: float) -> list[Any]: ...
        def _node_failed(self, nid: str, now: float) -> list[Any]: ...
        def _attempt_lost(self, nid: str, now: float) -> ErrorInfo | None: ...
        def _expand_dynamic(
            self, nid: str, built: Value | None, now: float, ran_version: str = ""
        ) -> list[Any]: ...

    def _resume_lost(self, nid: str, fn: FlatNode, now: float) -> list[Command]:
        """A task node was running when its driver stopped: run it again, or fail it once
        losses that count as system errors have used up its system retries."""
        rec = self.records[nid]
        charged = self._attempt_lost(nid, now)
        assert fn.task is not None
        if charged is not None:
            rec.system_failures += 1
            if rec.system_failures > fn.task.system_retries:
                rec.error = charged
                self._move(
                    nid,
                    N.FAILED,
                    f"system error ({charged.type}): system retries exhausted "
                    f"({fn.task.system_retries})",
                    now,
                )
                return self._node_failed(nid, now)
        self._move(nid, N.QUEUED, "resumed: attempt lost", now)
        return self._lookup_or_enqueue(nid, fn, now)

    def _lookup_or_enqueue(self, nid: str, fn: FlatNode, now: float) -> list[Command]:
        task = fn.task
        assert task is not None
        rec = self.records[nid]
        if rec.inputs is None:
            rec.inputs = {k: self.resolve(b) for k, b in fn.inputs.items()}
        if task.cache.enabled:
            parts = key_parts(task, rec.inputs, self.execution.project, self.execution.domain)
            key = cache_key(parts)
            rec.cache_key = key
            rec.cache_key_parts = parts
            return [LookupCache(nid, key, parts, task.cache.serialize)]
        return [Enqueue(nid)]

    def _cache_looked(self, ev: CacheLooked) -> list[Command]:
        rec = self.records[ev.node_id]
        if rec.phase != N.QUEUED:
            return []
        rec.cache_reason = ev.reason
        if ev.entry is not None:
            rec.cache_status = CacheStatus.HIT.value
            rec.outputs = dict(ev.entry.outputs)
            self._cause = self._event("cache", "hit", ev.reason, ev.now, node=ev.node_id)
            self._move(ev.node_id, N.SUCCEEDED, "cache hit", ev.now)
            return self._succeeded(ev.node_id, ev.now)
        rec.cache_status = CacheStatus.MISS.value
        self._dirty_nodes[ev.node_id] = rec
        if not ev.writable:
            self._read_only.add(ev.node_id)
        self._event("cache", "miss", ev.reason, ev.now, node=ev.node_id)
        return [Enqueue(ev.node_id)]

    def _admit(self, nid: str, now: float) -> list[Command]:
        rec = self.records[nid]
        if rec.phase != N.QUEUED or self.execution.phase in tr.TERMINAL_EXECUTION_VALUES:
            return []
        rec.attempts += 1
        self._move(nid, N.RUNNING, f"attempt {rec.attempts} started", now)
        att = AttemptRecord(
            execution_id=self.execution.id,
            node_id=nid,
            attempt=rec.attempts,
            phase=_RUNNING,
            started_at=now,
        )
        self.attempts[(nid, rec.attempts)] = att
        self._dirty_attempts[(nid, rec.attempts)] = att
        cmds: list[Command] = [StartAttempt(nid, rec.attempts, dict(rec.inputs or {}))]
        parent = self.graph[nid].parent
        while parent:
            if self.records[parent].phase == N.PENDING:
                self._move(parent, N.RUNNING, "a child started", now)
            parent = self.graph[parent].parent
        return cmds

    def _attempt_finished(self, ev: AttemptFinished) -> list[Command]:
        nid = ev.node_id
        rec = self.records[nid]
        att = self.attempts.get((nid, ev.attempt))
        if att is None or att.phase != AttemptPhase.RUNNING or rec.phase != N.RUNNING:
            return []  # a late report of an attempt already settled
        att.ended_at = ev.now
        if ev.queued_s:
            # It waited for a worker after its admission (a shared pool's queue): its start
            # is the hand-off, measured from the admission on the driver's own clock (the
            # worker's may be another host's, or the engine's a test's).
            admitted, att.started_at = att.started_at, min(att.started_at + ev.queued_s, ev.now)
            if rec.started_at == admitted:  # the node began with this attempt: so does its time
                rec.started_at = att.started_at
        elif ev.started_at:
            att.started_at = min(att.started_at, ev.started_at)
        att.log_uri = ev.log_uri
        att.worker = ev.worker
        self._dirty_attempts[(nid, ev.attempt)] = att
        task = self.graph[nid].task
        assert task is not None
        graph = ev.outputs.get(GRAPH_OUTPUT) if ev.outputs else None
        if ev.error is None and graph is not None and graph.format == GRAPH_FORMAT:
            # The task type's runner built a graph (dynamic's, or any other type's): run it.
            att.phase = AttemptPhase.SUCCEEDED.value
            self._cause = self._event(
                "attempt", att.phase, "graph built", ev.now, node=nid, attempt=ev.attempt
            )
            return self._expand_dynamic(nid, graph, ev.now, ev.ran_version)
        if ev.error is None:
            att.phase = _SUCCEEDED
            why = outputs_written(ev.ran_version)
            self._cause = self._event(
                "attempt", att.phase, why, ev.now, node=nid, attempt=ev.attempt
            )
            rec.outputs = dict(ev.outputs or {})
            rec.error = None
            cmds: list[Command] = []
            if task.cache.enabled and rec.cache_key_parts is not None:
                if not ev.ran_version and nid not in self._read_only:  # (else not its key's)
                    rec.cache_status = CacheStatus.PUT.value
                    parts, eid = rec.cache_key_parts, self.execution.id
                    put = cache_put(rec.cache_key, parts, rec.outputs, ev.now, eid, nid)
                    self._batch.cache_puts.append(put)
                if task.cache.serialize:
                    cmds.append(ReleaseCache(rec.cache_key))
            self._move(nid, N.SUCCEEDED, f"attempt {ev.attempt} succeeded", ev.now)
            return cmds + self._succeeded(nid, ev.now)
        err = ev.error
        att.phase = failed_attempt_phase(err)
        att.error = err
        self._cause = self._event(
            "attempt",
            att.phase,
            f"{err.kind} error: {err.type}",
            ev.now,
            node=nid,
            attempt=ev.attempt,
        )
        rec.error = err
        d = decide_retry(err, rec.user_failures, rec.system_failures, task, self.retry)
        rec.user_failures, rec.system_failures = d.user_failures, d.system_failures
        if d.retry:
            rec.retry_at = ev.now + d.delay_s
            self._move(nid, N.RETRYING, d.cause(err), ev.now)
            return [ScheduleRetry(nid, rec.retry_at)]
        cmds = [ReleaseCache(rec.cache_key)] if task.cache.serialize else []
        self._move(nid, N.FAILED, d.cause(err), ev.now)
        return cmds + self._node_failed(nid, ev.now)

    def _retry_due(self, nid: str, now: float) -> list[Command]:
        if (
            self.records[nid].phase != N.RETRYING
            or self.execution.phase in tr.TERMINAL_EXECUTION_VALUES
        ):
            return []
        self._move(nid, N.QUEUED, "backoff over", now)
        return [Enqueue(nid)]
