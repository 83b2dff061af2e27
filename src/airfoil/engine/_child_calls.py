"""Tasks called by running tasks (Python-native composition): the one child-call transport.

A call made inside a running attempt arrives as a :class:`~airfoil.executors.base.ChildCall`
(the runtime has converted its inputs and derived the child's node id from the caller's node,
the call's order and its inputs; see ``airfoil.runtime._children``), by one of two routes:

- attempts that run in the driver's own thread (inline) call :meth:`ChildCalls.submit` and
  :meth:`ChildCalls.wait` directly (the executor was given this object with
  ``Executor.connect``): ``wait`` drives the same loop re-entrantly until the child has ended;
- attempts in worker processes send calls up a pipe; the loop takes them from the executor
  after each poll (``Executor.take_child_calls``) and answers with ``Executor.answer_child``.

Either way each call becomes the same ``ChildCalled`` event: a child node of the caller with
cache lookup, admission, its own attempts, retries and timeout, all committed like any
node's. An outcome is given only after the child's final phase is in the store.

Invariants:

- A caller waiting on children gives up its place in the drive's parallelism (and its worker
  does not count against the pool), so its children, and theirs, can always be admitted and
  nesting never deadlocks on workers. The place is taken back when its last outstanding
  child is answered. Resources it was granted by the scheduling policy (GPUs) stay held
  while it waits: a caller that holds every GPU cannot wait on a child that needs one.
- A call for a child this drive is already running (the caller was retried while its child
  ran) waits for that run instead of starting a second one. A child that had succeeded before
  (an earlier drive, or an earlier attempt of the caller) is answered from the store.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, cast

from airfoil.core.drive_lock import DriveLock
from airfoil.core.phases import NodePhase
from airfoil.engine import state as sm
from airfoil.engine._mapping import split_item_id
from airfoil.executors.base import ChildCall, ChildOutcome

if TYPE_CHECKING:
    from airfoil.engine._loop import DriveLoop

__all__ = ["ChildCalls", "outcome_of"]


def outcome_of(state: sm.RunState, nid: str) -> ChildOutcome:
    """A finished child node's outcome, as its caller is told."""
    rec = state.records[nid]
    if rec.phase == NodePhase.SUCCEEDED.value:
        return ChildOutcome(node_id=nid, outputs=dict(rec.outputs or {}))
    return ChildOutcome(node_id=nid, error=rec.error)


class ChildCalls:
    """The child calls of one drive's attempts (a ``ChildTransport``)."""

    def __init__(self, loop: DriveLoop) -> None:
        # Not a strong reference: the loop holds this object, and a cycle would keep a
        # finished drive's whole state (records, graph, spec) for the collector's next full
        # collection instead of freeing it when the drive returns. Used only while it runs.
        self.loop = cast("DriveLoop", weakref.proxy(loop))
        self.waiting: dict[str, list[ChildCall]] = {}  # child node -> remote calls on it
        self.local: dict[str, list[ChildCall]] = {}  # child node -> in-thread calls on it
        # (caller node, attempt) -> (children it waits on, whether it gave up a running slot)
        self.blocked: dict[tuple[str, int], tuple[int, bool]] = {}
        self.remote_callers: set[tuple[str, int]] = set()
        self.armed: set[str] = set()  # children this drive has (re)started
        self.inbox: list[ChildCall] = []  # in-thread calls not yet taken
        self._inbox_lock = threading.Lock()
        # One thread drives the loop at a time: an async task awaits its children from
        # threads of its own (``asyncio.to_thread``), each of which waits here.
        self._driving = DriveLock()  # handed down to nested async attempts' threads

    # --- the transport of attempts running in the driver's thread ------------------------

    def submit(self, call: ChildCall) -> None:
        """Take a call of an attempt running in this thread (it goes on until it waits)."""
        with self._inbox_lock:
            self.inbox.append(call)

    def wait(self, node_id: str) -> ChildOutcome:
        """Drive the loop (re-entrantly: the caller runs in its thread) until the child
        ``node_id`` has ended and is committed; its outcome.

        Callers in several threads (an async task's awaited children) take turns: the one
        driving also commits the others' children, which then find theirs ended."""
        with self._driving:
            loop = self.loop
            events: list[sm.Event] = []
            self.take_inbox(events)
            first: list[sm.Command] = []
            for ev in events:
                first += loop.handle(ev)
            loop.run_until(first, lambda: self._ended(node_id))
            outcome = outcome_of(loop.state, node_id)
            for call in self.local.pop(node_id, []):
                self._unblock((call.parent, call.parent_attempt))
            return outcome

    def take_inbox(self, events: list[sm.Event]) -> None:
        """The events of the in-thread calls not yet taken."""
        with self._inbox_lock:
            calls, self.inbox = self.inbox, []
        for call in calls:
            self._take(call, events, remote=False)

    def _ended(self, nid: str) -> bool:
        if self.loop.finished:
            return True
        rec = self.loop.state.records.get(nid)
        return rec is not None and NodePhase(rec.phase).terminal

    # --- calls of attempts in worker processes --------------------------------------------

    def receive(self, events: list[sm.Event]) -> None:
        """Take the executor's new child calls; add the events that start their children."""
        exec_id = self.loop.state.execution.id
        for call in self.loop.e.executor.take_child_calls():
            if call.execution_id == exec_id:  # else from another drive sharing the executor
                self._take(call, events, remote=True)

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
        """Whether some attempt in a worker waits on a child (forgetting ended attempts)."""
        for caller in list(self.remote_callers):
            if caller not in self.blocked or not self._running(caller):
                self.remote_callers.discard(caller)
                self.blocked.pop(caller, None)
        return bool(self.remote_callers)

    # --- shared ------------------------------------------------------------------------

    def _take(self, call: ChildCall, events: list[sm.Event], *, remote: bool) -> None:
        loop = self.loop
        state = loop.state
        caller = (call.parent, call.parent_attempt)
        count, slot = self.blocked.get(caller, (0, False))
        if count == 0:
            slot = loop.admission.suspend(call.parent)
        self.blocked[caller] = (count + 1, slot)
        nid = call.node_id
        (self.waiting if remote else self.local).setdefault(nid, []).append(call)
        if remote:
            self.remote_callers.add(caller)
        rec = state.records.get(nid)
        if rec is not None and nid in self.armed and not NodePhase(rec.phase).terminal:
            return  # already running for an earlier attempt of the caller: wait for it
        if rec is not None and rec.phase == NodePhase.SUCCEEDED.value:
            return  # answered from the store
        self.armed.add(nid)
        now = loop.e.clock.now()
        cause = loop.causes.get(call.parent, 0)  # the entry that started the caller
        events.append(
            sm.ChildCalled(
                call.parent,
                nid,
                call.task,
                dict(call.inputs),
                now,
                cause=cause,
                workflow=call.workflow,
            )
        )

    def _running(self, caller: tuple[str, int]) -> bool:
        """Whether the caller's attempt still runs (a node's, or a map item's)."""
        state = self.loop.state
        nid, attempt = caller
        if split_item_id(nid) is not None:
            return state.item_running(nid, attempt)
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
        self.remote_callers.discard(caller)
        if slot and self._running(caller):
            self.loop.admission.resume(caller[0])  # the caller runs on: its slot again
