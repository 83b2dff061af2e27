"""Closed phase enums of executions, nodes and attempts."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["AttemptPhase", "CacheStatus", "ExecutionPhase", "NodeKind", "NodePhase"]


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


_EXEC_TERMINAL = frozenset(
    {ExecutionPhase.SUCCEEDED, ExecutionPhase.FAILED, ExecutionPhase.ABORTED}
)
_NODE_TERMINAL = frozenset(
    {NodePhase.SUCCEEDED, NodePhase.FAILED, NodePhase.SKIPPED, NodePhase.ABORTED}
)
