"""What a run state records of itself: node moves checked against the transition table, the
event log with each entry's cause, and the pending batch of changed records (the base of
:class:`~airfoil.engine.state.RunState` and its mixins; pure, like the rest of it).

Every change of a node, attempt or the execution is put in the pending
:class:`~airfoil.core.records.StoreBatch` (``_dirty_*``, ``_batch``), which the driver commits
before it carries out the commands; every move appends an entry to the event log naming the
entry that caused it (``_cause``).
"""

from __future__ import annotations

from msgspec.structs import force_setattr

from airfoil.core.phases import ExecutionPhase, NodeKind
from airfoil.core.phases import NodePhase as N
from airfoil.core.records import (
    AttemptRecord,
    EventRecord,
    ExecutionRecord,
    NodeRecord,
    StoreBatch,
)
from airfoil.engine import transitions as tr
from airfoil.engine._commands import Finished
from airfoil.engine._events import Command
from airfoil.engine.graph import FlatNode

__all__ = ["CHILD", "RunRecorder"]

#: The kind of a node added by a task's call of a task while it runs.
CHILD = NodeKind.CHILD


class RunRecorder:
    """The records of one execution and what has changed in them since the last batch."""

    execution: ExecutionRecord
    graph: dict[str, FlatNode]
    records: dict[str, NodeRecord]
    attempts: dict[tuple[str, int], AttemptRecord]
    #: the last event-log entry's sequence number
    seq: int
    #: unfinished nodes that count as open work (see ``_move``)
    _open: int
    _batch: StoreBatch  # what the driver commits before carrying out the commands
    #: the event-log entry that caused what is being recorded now (see ``RunState.handle``)
    _cause: int
    #: node id ("" for the execution) -> its latest entry written by the current event
    _touched: dict[str, int]
    _dirty_nodes: dict[str, NodeRecord]
    _dirty_attempts: dict[tuple[str, int], AttemptRecord]
    _exec_dirty: bool

    def _event(
        self,
        kind: str,
        to: str,
        cause: str,
        now: float,
        node: str = "",
        frm: str = "",
        attempt: int = 0,
    ) -> int:
        """Append an entry to the event log, caused by ``self._cause``; its ``seq``."""
        self.seq += 1
        self._batch.events.append(
            EventRecord(
                execution_id=self.execution.id,
                seq=self.seq,
                at=now,
                kind=kind,
                to_phase=to,
                cause=cause,
                node_id=node,
                attempt=attempt,
                from_phase=frm,
                cause_id=self._cause,
            )
        )
        self._touched[node] = self.seq
        return self.seq

    def _caused_by(self, nid: str) -> int:
        """Make the latest entry about ``nid`` the cause of what is recorded next; the
        previous cause."""
        previous = self._cause
        self._cause = self._touched.get(nid, previous)
        return previous

    def _stamp(self, cmds: list[Command]) -> None:
        """Give the commands an event returns their cause: the latest entry about each one's
        node written by the event (the execution's for ``Finished``), else the current cause.

        The commands were made by this event and nobody has seen them yet: setting the field
        of a frozen command here completes its construction (``msgspec.structs.replace`` would
        build each one twice, on the engine's hottest path)."""
        touched, cause = self._touched, self._cause
        for cmd in cmds:
            key = "" if type(cmd) is Finished else getattr(cmd, "node_id", None)
            seq = cause if key is None else touched.get(key, cause)
            if seq:
                force_setattr(cmd, "cause", seq)

    def _move(self, nid: str, to: N, cause: str, now: float) -> NodeRecord:
        rec = self.records[nid]
        frm = tr.PHASE_OF[rec.phase]
        handler = tr.TRANSITIONS.get((frm, to))
        if handler is None:
            raise tr.InvalidTransition(f"node {nid}: {frm.value} -> {to.value} ({cause})")
        handler(rec, now)
        # Open work: no child call, nor a called graph's node until it is called again.
        ends = to in tr.TERMINAL_PHASES and frm not in tr.TERMINAL_PHASES
        if ends and rec.kind != CHILD and nid in self.graph:
            self._open -= 1
        rec.phase = value = tr.VALUE_OF[to]
        self._dirty_nodes[nid] = rec
        self._event("node", value, cause, now, node=nid, frm=tr.VALUE_OF[frm])
        return rec

    def _set_execution(self, phase: ExecutionPhase, cause: str, now: float) -> None:
        frm = self.execution.phase
        if frm == phase.value:
            return
        self.execution.phase = phase.value
        if phase == ExecutionPhase.RUNNING and self.execution.started_at is None:
            self.execution.started_at = now
        if phase.terminal:
            self.execution.ended_at = now
        self._exec_dirty = True
        self._event("execution", phase.value, cause, now, frm=frm)
