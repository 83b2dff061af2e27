"""What an ``on_failure`` handler is told about a failed execution."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FailureInfo"]


@dataclass(frozen=True)
class FailureInfo:
    """The failure that ended an execution, given to its workflow's ``on_failure`` handler.

    Attributes:
        execution_id: the failed execution.
        node_id: the node whose failure ended it ("" if none).
        kind: ``user`` (the task's code raised) or ``system``.
        error_type: the exception's type name.
        message: the exception's message.
    """

    execution_id: str
    node_id: str
    kind: str
    error_type: str
    message: str
