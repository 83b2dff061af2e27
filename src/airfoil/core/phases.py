"""Closed phase enums of executions, nodes and attempts."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AttemptPhase",
    "CacheStatus",
    "ErrorKind",
    "ExecutionPhase",
    "GateKind",
    "NodeKind",
    "NodePhase",
]


class ExecutionPhase(StrEnum):
    """Phase of a whole execution."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"

    @property
    def terminal(self) -> bool:
        return self in _EXEC_TERMINAL


class NodePhase(StrEnum):
    """Phase of one node of an execution.

    ``pending`` waits for upstream nodes; ``queued`` has its inputs and waits for a slot;
    ``running`` has a live attempt; ``retrying`` waits out a backoff before the next attempt.
    """

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    ABORTED = "aborted"

    @property
    def terminal(self) -> bool:
        return self in _NODE_TERMINAL


class NodeKind(StrEnum):
    """What a node is. Stored by value in specs and records (``NodeSpec.kind``,
    ``NodeRecord.kind``); a dynamic node is a ``task`` whose task type is ``dynamic``."""

    TASK = "task"
    WORKFLOW = "workflow"  # a subworkflow
    BRANCH = "branch"  # a conditional
    MAP = "map"
    GATE = "gate"
    CHILD = "child"  # a task called by a running task


class ErrorKind(StrEnum):
    """Whose fault a failure is. Stored by value (``ErrorInfo.kind``).

    ``user``: the task's code or its inputs (uses the task's ``retries``); ``system``: the
    platform (a lost worker or driver, a preemption, a missing runner; uses its
    ``system_retries``); ``data``: an input's stored bytes are damaged (never retried: reading
    them again cannot succeed)."""

    USER = "user"
    SYSTEM = "system"
    DATA = "data"


class GateKind(StrEnum):
    """What a gate node waits for. Stored by value (``GateSpec.kind``)."""

    SLEEP = "sleep"  # a timer
    INPUT = "input"  # a typed signal
    APPROVE = "approve"  # a yes/no signal


class AttemptPhase(StrEnum):
    """Phase of one try of a node."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    LOST = "lost"
    ABORTED = "aborted"


class CacheStatus(StrEnum):
    """What the cache did for a node."""

    DISABLED = "disabled"
    HIT = "hit"
    MISS = "miss"
    PUT = "put"
    #: A map some (not all) of whose items were served from the cache; its reason says how
    #: many (a map served whole is a ``hit``).
    PARTIAL = "partial"


_EXEC_TERMINAL = frozenset(
    {ExecutionPhase.SUCCEEDED, ExecutionPhase.FAILED, ExecutionPhase.ABORTED}
)
_NODE_TERMINAL = frozenset(
    {NodePhase.SUCCEEDED, NodePhase.FAILED, NodePhase.SKIPPED, NodePhase.ABORTED}
)
