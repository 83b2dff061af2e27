"""The control inbox: messages sent to a running execution from outside (a gate's signal,
a terminate request), drained by whoever drives it.

:class:`ControlInbox` is a small abstract class the metadata stores inherit, so a signal sent
by the CLI, the API or another process reaches the driving loop through the one store they
share, whatever it is (memory, SQLite, PostgreSQL). Backends pass the shared tests in
:mod:`airfoil.testing.conformance`.

Invariants every backend keeps:

- A message is keyed by ``(execution_id, kind, name)``: the first one sent wins, and sending
  it again is refused (``send_control`` returns False), so a gate never gets two values and
  a second terminate never changes the first one's reason.
- Messages stay until their execution is deleted: a driver that crashed before acting on one
  sees it again when the execution resumes (draining is reading, never deleting).
- Messages come back in the order they were sent (``sent_at``, then kind and name).
"""

from __future__ import annotations

import abc

import msgspec

from airfoil.core.records import Value

__all__ = ["CONTROL_KINDS", "ControlInbox", "ControlMessage"]

#: The kinds of control message.
CONTROL_KINDS = ("signal", "terminate")


class ControlMessage(msgspec.Struct, frozen=True, omit_defaults=True):
    """One message to a running execution.

    Attributes:
        execution_id: the execution it is for.
        kind: ``signal`` (a value for the gate ``name``) or ``terminate`` (stop the
            execution; ``name`` is empty).
        name: the gate's name for a signal.
        sent_at: when it was sent (seconds since the epoch).
        value: a signal's value.
        reason: a terminate request's reason.
    """

    execution_id: str
    kind: str
    sent_at: float
    name: str = ""
    value: Value | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.kind not in CONTROL_KINDS:
            raise ValueError(f"unknown control message kind {self.kind!r}: one of {CONTROL_KINDS}")


class ControlInbox(abc.ABC):
    """Where control messages to executions wait for their driver."""

    @abc.abstractmethod
    def send_control(self, message: ControlMessage) -> bool:
        """Store a message; False (and nothing stored) if one with the same execution, kind
        and name was sent before.

        Raises:
            NotFoundError: the execution does not exist.
        """

    @abc.abstractmethod
    def control_messages(self, execution_id: str, kind: str | None = None) -> list[ControlMessage]:
        """The messages sent to an execution (of one kind if given), oldest first."""
