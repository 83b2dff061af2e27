"""The run state machine's vocabulary: the events it takes (stimuli) and the commands it
returns, as closed unions. Plain frozen records; no behaviour, no I/O. Events are msgspec
structs (built in C: an inline map item makes two, a chain task four or more); commands are
frozen dataclasses, as their ``cause`` stays out of their equality.

Every event carries ``cause``: the ``seq`` of the event-log entry that led to it (the entry
whose command the driver carried out to produce it: an attempt's result names the entry that
started the attempt, a retry's timer the entry that decided the retry), or 0 for a stimulus
from outside the engine (a start, a launch, a user's abort). See ``RunState.handle``."""

from __future__ import annotations

import msgspec

from airfoil.core.records import (
    AttemptRecord,
    CacheEntry,
    ErrorInfo,
    NodeRecord,
    TaskSpec,
    Value,
    WorkflowSpec,
)
from airfoil.engine._commands import (
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

__all__ = [
    "Abort",
    "Admit",
    "AttemptFinished",
    "CacheLooked",
    "ChildCalled",
    "Command",
    "EngineFailed",
    "Event",
    "Launch",
    "MapExpanded",
    "Recover",
    "RetryDue",
    "SignalReceived",
    "Start",
]


# --- events (stimuli) -----------------------------------------------------------------------


class Start(msgspec.Struct, frozen=True):
    """Begin or resume driving the execution."""

    now: float
    cause: int = 0


class Launch(msgspec.Struct, frozen=True):
    """A new execution was created (phase ``queued``): record it."""

    now: float
    cause: int = 0


class Recover(msgspec.Struct, frozen=True):
    """A new execution recovers ``source``: reuse its succeeded nodes and finished map
    items (recorded in the same batch as the launch, so a crash leaves all or nothing)."""

    source: str
    succeeded: list[NodeRecord]
    items: list[AttemptRecord]
    now: float
    cause: int = 0


class CacheLooked(msgspec.Struct, frozen=True):
    """The result of a cache lookup: an entry whose blobs exist, or None with a reason.
    ``writable``: whether the node's result may be written under its key (``False``: the
    project may only read the task's shared cache scope)."""

    node_id: str
    entry: CacheEntry | None
    reason: str
    now: float
    cause: int = 0
    writable: bool = True


class Admit(msgspec.Struct, frozen=True):
    """The scheduler admitted a queued node: start its next attempt."""

    node_id: str
    now: float
    cause: int = 0


class AttemptFinished(msgspec.Struct, frozen=True):
    """An attempt ended with outputs or an error (kind ``user`` or ``system``)."""

    node_id: str
    attempt: int
    outputs: dict[str, Value] | None
    error: ErrorInfo | None
    started_at: float
    now: float
    log_uri: str = ""
    worker: str = ""
    cause: int = 0
    #: see ``AttemptResult.ran_version``: set, the outputs are not cached
    ran_version: str = ""
    #: see ``AttemptResult.queued_s``: the attempt's start is recorded that much after its
    #: admission (it waited for a worker meanwhile)
    queued_s: float = 0.0


class RetryDue(msgspec.Struct, frozen=True):
    """A retrying node's backoff is over."""

    node_id: str
    now: float
    cause: int = 0


class MapExpanded(msgspec.Struct, frozen=True):
    """A map node's list inputs were split into items (or could not be: ``error``)."""

    node_id: str
    items: list[dict[str, Value]] | None
    error: str
    now: float
    cause: int = 0


class SignalReceived(msgspec.Struct, frozen=True):
    """A signal a gate waits for has arrived (already type-checked by the sender)."""

    node_id: str
    value: Value
    now: float
    cause: int = 0


class ChildCalled(msgspec.Struct, frozen=True):
    """A running task called a task (``task``) or a workflow (``workflow``): run it as a
    child node of the caller."""

    parent: str
    node_id: str
    task: TaskSpec | None
    inputs: dict[str, Value]
    now: float
    cause: int = 0
    workflow: WorkflowSpec | None = None


class EngineFailed(msgspec.Struct, frozen=True):
    """The engine itself failed while driving (a bug, or a misbehaving executor): fail the
    execution with ``error`` rather than leave it running."""

    error: ErrorInfo
    now: float
    cause: int = 0


class Abort(msgspec.Struct, frozen=True):
    """Stop the execution (user request, or a node failed under fail_immediately)."""

    reason: str
    now: float
    cause: int = 0


Command = (
    LookupCache
    | Enqueue
    | StartAttempt
    | ScheduleRetry
    | CancelAttempt
    | ReleaseCache
    | Finished
    | ExpandMap
    | WatchSignal
)
Event = (
    Start
    | Launch
    | Recover
    | CacheLooked
    | Admit
    | AttemptFinished
    | RetryDue
    | Abort
    | EngineFailed
    | MapExpanded
    | SignalReceived
    | ChildCalled
)
