"""Tasks called by running tasks (Python-native composition), on the inline executor.

A call made inside a running task becomes a child node of the calling node, with an id
derived from the caller's node, the call's order and its inputs. The driver runs it right
away, re-entrantly (the caller waits for its result in the same thread): cache lookup, the
callee's own retries, every state change committed like any other node's. A child that had
succeeded is not run again when the caller is re-run after a crash; a child's exception
reaches the caller as the same exception type, with the child's traceback as a note.
"""

from __future__ import annotations

import builtins
import importlib
from collections import deque
from typing import TYPE_CHECKING, Any

from airfoil.core.errors import UserCodeError
from airfoil.core.ids import stable_hash
from airfoil.core.phases import NodePhase
from airfoil.core.records import ErrorInfo
from airfoil.engine import state as sm

if TYPE_CHECKING:
    from airfoil.engine.runner import _Loop

__all__ = ["ChildRunner"]


class ChildRunner:
    """Runs the children of the attempts one drive runs inline."""

    def __init__(self, loop: _Loop) -> None:
        self.loop = loop

    def __call__(self, caller: Any, taskdef: Any, given: dict[str, Any]) -> Any:
        from airfoil.engine.local import convert_values, decode_values

        loop = self.loop
        e, state = loop.e, loop.state
        spec = taskdef.spec
        values = convert_values(taskdef, given, e.types, e.blobs)
        order = caller.next_child()
        digest = stable_hash(spec.name, *(f"{k}={v.hash}" for k, v in sorted(values.items())))
        nid = f"{caller.node_id}.call{order}-{digest[:8]}"
        rec = state.records.get(nid)
        if rec is None or rec.phase != NodePhase.SUCCEEDED.value:
            now = e.clock.now()
            self._drive(nid, state.handle(sm.ChildCalled(caller.node_id, nid, spec, values, now)))
        rec = state.records[nid]
        if rec.phase == NodePhase.SUCCEEDED.value:
            return decode_values(taskdef, rec.outputs or {}, e.types, e.blobs)
        raise _exception(rec.error, taskdef.name, nid)

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
        runtime = importlib.import_module("airfoil.runtime.worker")
        result = runtime.run_attempt(
            request, e.blobs, type_engine=e.types, in_process=True, child_runner=self
        )
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


def _exception(error: ErrorInfo | None, name: str, nid: str) -> BaseException:
    """The child's exception as the caller sees it: the same type when it can be made."""
    if error is None:
        return UserCodeError("ChildFailed", f"child {nid} of {name} failed")
    cls: Any = None
    module, _, qual = error.type.rpartition(".")
    try:
        if not module:
            cls = getattr(builtins, qual, None)
            if cls is None:
                cls = getattr(importlib.import_module("airfoil.core.errors"), qual, None)
        else:
            cls = importlib.import_module(module)
            for part in qual.split("."):
                cls = getattr(cls, part)
    except Exception:
        cls = None
    exc: BaseException
    try:
        if not (isinstance(cls, type) and issubclass(cls, Exception)):
            raise TypeError
        exc = cls(error.message)
    except Exception:
        exc = UserCodeError(error.type, error.message, error.traceback)
    exc.add_note(f"raised in child task {name} (node {nid}):\n{error.traceback}".rstrip())
    return exc
