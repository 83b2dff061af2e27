"""Tasks called by running tasks (Python-native composition), on the inline executor.

A call made inside a running task arrives as a :class:`~airfoil.executors.base.ChildCall`
(the runtime has converted its inputs and derived the child's node id from the caller's
node, the call's order and its inputs; see ``airfoil.runtime._children``). The driver runs
it right away, re-entrantly (the caller waits in the same thread): cache lookup, the callee's
own retries, every state change committed like any other node's. A child that had succeeded
is not run again when the caller is re-run after a crash. Gathered calls therefore run one
after another here; the process executor runs them side by side (``_child_calls``).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from airfoil.core.phases import NodePhase
from airfoil.engine import state as sm
from airfoil.executors.base import ChildCall, ChildOutcome

if TYPE_CHECKING:
    from airfoil.engine.runner import _Loop

__all__ = ["ChildRunner", "outcome_of"]


class ChildRunner:
    """The child-call transport of the attempts one drive runs inline."""

    def __init__(self, loop: _Loop) -> None:
        self.loop = loop
        self._done: dict[str, ChildOutcome] = {}

    def submit(self, call: ChildCall) -> None:
        """Run the child to its end (durably); its outcome waits for :meth:`wait`."""
        loop = self.loop
        state = loop.state
        nid = call.node_id
        rec = state.records.get(nid)
        if rec is None or rec.phase != NodePhase.SUCCEEDED.value:
            now = loop.e.clock.now()
            event = sm.ChildCalled(call.parent, nid, call.task, dict(call.inputs), now)
            self._drive(nid, state.handle(event))
        self._done[nid] = outcome_of(state, nid)

    def wait(self, node_id: str) -> ChildOutcome:
        return self._done.pop(node_id)

    def _drive(self, nid: str, first: list[sm.Command]) -> None:
        """Carry out the child's commands until the child is finished (durably)."""
        loop = self.loop
        e, state = loop.e, loop.state
        pending: deque[sm.Command] = deque(first)
        due: float | None = None
        while True:
            batch = state.take_batch()
            if batch:
                e.meta.write(batch)
            if NodePhase(state.records[nid].phase).terminal:
                return
            if not pending:
                if due is None:
                    raise RuntimeError(f"child {nid} is stuck: nothing to run")
                e.clock.sleep(max(0.0, due - e.clock.now()))
                pending.extend(state.handle(sm.RetryDue(nid, e.clock.now())))
                due = None
                continue
            cmd = pending.popleft()
            events: list[sm.Event] = []
            if isinstance(cmd, sm.Enqueue):
                events.append(sm.Admit(cmd.node_id, e.clock.now()))
            elif isinstance(cmd, sm.LookupCache):
                loop._lookup(cmd, events)
            elif isinstance(cmd, sm.ScheduleRetry):
                due = cmd.at
            elif isinstance(cmd, sm.StartAttempt):
                # Commit the "running" state first, as the driver always does.
                batch = state.take_batch()
                if batch:
                    e.meta.write(batch)
                events.append(self._run(cmd))
            else:  # release a cache reservation; nothing else reaches a child
                loop._carry_out(cmd, events)
            for ev in events:
                pending.extend(state.handle(ev))

    def _run(self, cmd: sm.StartAttempt) -> sm.AttemptFinished:
        loop = self.loop
        e = loop.e
        request = loop.attempt_request(cmd)
        result = e.executor.run_now(request)
        return sm.AttemptFinished(
            node_id=cmd.node_id,
            attempt=cmd.attempt,
            outputs=result.outputs,
            error=result.error,
            started_at=result.started_at,
            now=max(e.clock.now(), result.ended_at),
            log_uri=result.log_uri,
            worker=result.worker,
        )


def outcome_of(state: sm.RunState, nid: str) -> ChildOutcome:
    """A finished child node's outcome, as its caller is told."""
    rec = state.records[nid]
    if rec.phase == NodePhase.SUCCEEDED.value:
        return ChildOutcome(node_id=nid, outputs=dict(rec.outputs or {}))
    return ChildOutcome(node_id=nid, error=rec.error)
