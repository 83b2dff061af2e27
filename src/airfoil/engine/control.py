"""Stopping an execution that another process drives: its terminate request.

A server's driver slot reads its execution's terminate requests (messages of the store's
control inbox, :mod:`airfoil.store._control`) between polls; a local drive (``airfoil run``,
``executions resume``) does the same through :class:`TerminateWatch`, so ``airfoil executions
abort ID`` from another terminal stops a local run as ``--remote`` stops a server's. The
request is read every ``every_s`` seconds at most (the first time a period after the drive's
first poll: a run shorter than that reads none), at the executor's polls: with the inline
executor, which runs a task in the driving thread, a running task finishes first.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import msgspec

from airfoil.core.errors import StoreError, UnreadableRecordError
from airfoil.core.phases import ErrorKind, ExecutionPhase
from airfoil.core.records import ErrorInfo, EventRecord, ExecutionRecord, StoreBatch
from airfoil.engine.launcher import take_lease
from airfoil.executors.base import AttemptResult, DelegatingExecutor, Executor
from airfoil.store._control import ControlInbox, ControlMessage

if TYPE_CHECKING:
    from airfoil.engine.runner import Engine

__all__ = [
    "TerminateRequested",
    "TerminateWatch",
    "abort_and_cancel",
    "drive_watched",
    "fail_unreadable",
    "requested_stop",
    "request_terminate",
]


class TerminateRequested(Exception):
    """Raised out of a drive whose execution was asked to stop (``reason``)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class TerminateWatch(DelegatingExecutor):
    """``inner``, reading the terminate requests of ``execution_id`` at its polls.

    Raises:
        TerminateRequested: out of ``poll``, once a request is there; the drive ends (its
            lease released, running attempts left to :meth:`stop`).
    """

    def __init__(
        self, inner: Executor, inbox: ControlInbox, execution_id: str, every_s: float = 0.5
    ) -> None:
        super().__init__(inner)
        self.inbox = inbox
        self.execution_id = execution_id
        self.every_s = every_s
        self._next = 0.0

    def poll(self, timeout: float | None) -> list[AttemptResult]:
        now = time.monotonic()
        if not self._next:  # the first read comes a period in: a short run makes none
            self._next = now + self.every_s
        elif now >= self._next:
            self._next = now + self.every_s
            try:
                reason = requested_stop(self.inbox, self.execution_id)
            except StoreError:  # the store is away: the drive finds out by itself
                reason = None
            if reason is not None:
                raise TerminateRequested(reason)
        cap = self.every_s
        return self.inner.poll(cap if timeout is None else min(timeout, cap))


def requested_stop(inbox: ControlInbox, execution_id: str) -> str | None:
    """The reason of the first terminate request of ``execution_id``, or None if none.

    Raises:
        StoreError: the store could not be read.
    """
    stops = inbox.control_messages(execution_id, kind="terminate")
    return (stops[0].reason or "aborted by user") if stops else None


def abort_and_cancel(
    engine: Engine, executor: Executor, execution_id: str, reason: str
) -> ExecutionRecord:
    """Abort an execution whose drive ended on a terminate request, and cancel the attempts
    it had with ``executor`` (even if the abort itself failed): its running nodes' and its
    map items' (``n0[2]``: a server's pool outlives the drive, the items would run on)."""
    meta = engine.meta
    running = {n.node_id for n in meta.get_nodes(execution_id) if n.phase == "running"}
    running |= {a.node_id for a in meta.get_attempts(execution_id) if a.phase == "running"}
    try:
        return engine.abort(execution_id, reason)
    finally:
        for node_id in sorted(running):
            executor.cancel(execution_id, node_id)


def request_terminate(
    inbox: ControlInbox, record: ExecutionRecord, reason: str, now: float
) -> None:
    """Ask whoever drives ``record`` to abort it (a second request keeps the first's reason)."""
    inbox.send_control(ControlMessage(record.id, "terminate", now, reason=reason))


def drive_watched(engine: Engine, watch: TerminateWatch, execution_id: str) -> ExecutionRecord:
    """Drive an execution with ``engine`` (built over ``watch``); when a terminate request
    comes, abort it and cancel its running attempts, as a server's slot does."""
    watch.execution_id = execution_id
    try:
        return engine.drive(execution_id)
    except TerminateRequested as stop:
        return abort_and_cancel(engine, watch.inner, execution_id, stop.reason)


def fail_unreadable(
    engine: Engine, execution_id: str, exc: UnreadableRecordError
) -> ExecutionRecord:
    """Fail an execution that cannot be driven because a part of it (a node, an attempt, an
    event) no longer decodes (stored by an older or faulty version): reading the same bytes
    again cannot succeed, and an execution left unfinished would be claimed, and fail to
    load, again and again. Only its record and one event are written (a ``data`` error
    naming the part); its parts stay as stored, for ``executions show`` to name.

    Raises:
        ConflictError: another engine drives it.
    """
    meta, now = engine.meta, engine.clock.now()
    take_lease(meta, execution_id, engine.owner, now, engine.settings.lease_ttl_s)
    try:
        # the newest seq counts the events that do not decode too
        view = meta.view_execution(execution_id, on_unreadable=lambda _exc: None)
        record = view.execution
        assert isinstance(record, ExecutionRecord)  # full=True: the whole record
        message = f"this execution cannot be driven on: {exc}"
        failed = ExecutionPhase.FAILED.value
        ended = msgspec.structs.replace(
            record,
            phase=failed,
            ended_at=now,
            error=ErrorInfo(ErrorKind.DATA, type(exc).__name__, message),
        )
        event = EventRecord(
            execution_id, view.last_seq + 1, now, "execution", failed, message,
            from_phase=record.phase,
        )  # fmt: skip
        meta.write(StoreBatch(execution=ended, events=[event], lease=(execution_id, engine.owner)))
        return ended
    finally:
        meta.release_lease(execution_id, engine.owner)
