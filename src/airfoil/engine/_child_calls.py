"""Tasks called by tasks that run in worker processes (Python-native composition).

A worker's attempt that calls a task sends a :class:`~airfoil.executors.base.ChildCall` up
its pipe and waits (or, for gathered and async calls, goes on and waits later). The driver
takes the calls from the executor after each poll and records each as a child node of the
caller (``ChildCalled``, the same event as on the inline executor): cache lookup, admission,
its own attempts on other workers with the callee's resources, retries and timeout, all
committed like any node's. Once the child's final phase is committed, its outcome is sent
back to the waiting attempt.

Invariants:

- A caller waiting on children gives up its place in the drive's parallelism (and its worker
  does not count against the pool), so its children, and theirs, can always be admitted and
  nesting never deadlocks on workers. The place is taken back when its last outstanding
  child is answered. Resources it was granted by the scheduling policy (GPUs) stay held
  while it waits: a caller that holds every GPU cannot wait on a child that needs one.
- An outcome is sent only after the child's final phase is in the store: a caller that goes
  on and then crashes finds the child finished when it is re-run.
- A call for a child this drive is already running (the caller was retried while its child
  ran) waits for that run instead of starting a second one. A child that had succeeded before
  (an earlier drive, or an earlier attempt of the caller) is answered from the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airfoil.core.phases import NodePhase
from airfoil.engine import state as sm
from airfoil.engine._children import outcome_of
from airfoil.engine._mapping import split_item_id
from airfoil.executors.base import ChildCall

if TYPE_CHECKING:
    from airfoil.engine.runner import _Loop

__all__ = ["ChildCalls"]


class ChildCalls:
    """The child calls of one drive's attempts that run in worker processes."""

    def __init__(self, loop: _Loop) -> None:
        self.loop = loop
        self.waiting: dict[str, list[ChildCall]] = {}  # child node -> calls waiting on it
        # (caller node, attempt) -> (children it waits on, whether it gave up a running slot)
        self.blocked: dict[tuple[str, int], tuple[int, bool]] = {}
        self.armed: set[str] = set()  # children this drive has (re)started

    def receive(self, events: list[sm.Event]) -> None:
        """Take the executor's new child calls; add the events that start their children."""
        loop = self.loop
        state = loop.state
        for call in loop.e.executor.take_child_calls():
            if call.execution_id != state.execution.id:
                continue  # from another drive sharing the executor: not ours to answer
            caller = (call.parent, call.parent_attempt)
            count, slot = self.blocked.get(caller, (0, False))
            if count == 0:
                slot = loop.admission.suspend(call.parent)
            self.blocked[caller] = (count + 1, slot)
            nid = call.node_id
            self.waiting.setdefault(nid, []).append(call)
            rec = state.records.get(nid)
            if rec is not None and nid in self.armed and not NodePhase(rec.phase).terminal:
                continue  # already running for an earlier attempt of the caller: wait for it
            if rec is not None and rec.phase == NodePhase.SUCCEEDED.value:
                continue  # answered from the store by answer_ready
            self.armed.add(nid)
            now = loop.e.clock.now()
            events.append(sm.ChildCalled(call.parent, nid, call.task, dict(call.inputs), now))

    def answer_ready(self) -> None:
        """Send the outcome of every waited-on child whose final phase is committed."""
        if not self.waiting:
            return
        loop = self.loop
        state = loop.state
        for nid, calls in list(self.waiting.items()):
            rec = state.records.get(nid)
            if rec is None or not NodePhase(rec.phase).terminal:
                continue
            del self.waiting[nid]
            outcome = outcome_of(state, nid)
            for call in calls:
                loop.e.executor.answer_child(call, outcome)
                self._unblock((call.parent, call.parent_attempt))

    def any_blocked(self) -> bool:
        """Whether some running attempt waits on a child (forgetting attempts that ended)."""
        for caller in list(self.blocked):
            if not self._running(caller):
                del self.blocked[caller]
        return bool(self.blocked)

    def _running(self, caller: tuple[str, int]) -> bool:
        """Whether the caller's attempt still runs (a node's, or a map item's)."""
        state = self.loop.state
        nid, attempt = caller
        if split_item_id(nid) is not None:
            item = state._item_running.get(nid)
            return item is not None and item.attempt == attempt
        rec = state.records.get(nid)
        return rec is not None and rec.phase == NodePhase.RUNNING.value and rec.attempts == attempt

    def _unblock(self, caller: tuple[str, int]) -> None:
        entry = self.blocked.get(caller)
        if entry is None:
            return
        count, slot = entry
        if count > 1:
            self.blocked[caller] = (count - 1, slot)
            return
        del self.blocked[caller]
        if slot and self._running(caller):
            self.loop.admission.resume(caller[0])  # the caller runs on: its slot again
