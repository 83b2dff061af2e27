"""Commands the run state machine returns: what the driver must carry out (after it has
committed the state changes that led to them)."""

from __future__ import annotations

from typing import Any

import msgspec

from airfoil.core.phases import ErrorKind, ExecutionPhase
from airfoil.core.records import CacheKeyParts, ErrorInfo, Value

__all__ = [
    "DRIVER_LOST",
    "PREEMPTED",
    "CancelAttempt",
    "Enqueue",
    "ExpandMap",
    "Finished",
    "LookupCache",
    "ReleaseCache",
    "ScheduleRetry",
    "StartAttempt",
    "WatchSignal",
    "driver_lost",
]

#: The error type of an attempt the scheduler preempted (kind ``system``): it is retried
#: without using any retry budget.
PREEMPTED = "Preempted"

#: The error type of an attempt that was running when the engine driving it stopped (found
#: on resume; kind ``system``). See :func:`driver_lost`.
DRIVER_LOST = "DriverLostError"


def driver_lost(streak: int) -> tuple[ErrorInfo, bool]:
    """The error of an attempt lost with its driver, and whether it counts against the
    system retries, given how many attempts of the same node (or map item) right before it
    were lost the same way.

    A driver can stop for reasons that are no task's fault (Ctrl-C, a kill, a reboot), so
    the first loss is free. A second loss in a row points at the task itself (an
    ``os._exit``, a crash in native code or running out of memory takes an inline driver
    down with it): from then on each loss is a system error, so the node fails once its
    system retries are used up instead of killing every resume.
    """
    if streak == 0:
        return (
            ErrorInfo(
                kind=ErrorKind.SYSTEM,
                type=DRIVER_LOST,
                message=(
                    "the engine driving this attempt stopped while it ran (killed, "
                    "interrupted or crashed); it runs again, not counted against any retries"
                ),
            ),
            False,
        )
    return (
        ErrorInfo(
            kind=ErrorKind.SYSTEM,
            type=DRIVER_LOST,
            message=(
                f"the process running this attempt died while it ran, {streak + 1} times in "
                "a row: the task may be what kills it (os._exit, a crash in native code, "
                "running out of memory); counted as a system error. The process executor "
                "(--executor process) runs a task apart from its driver"
            ),
        ),
        True,
    )


# --- commands -----------------------------------------------------------------------------
#
# Every command carries ``cause``: the ``seq`` of the event-log entry it follows from (the
# node's entry written by the same event, else the entry that caused that event). The driver
# gives it to the event that carrying the command out produces, and to the hooks. It is not
# part of a command's equality: two commands asking the same thing are the same command.
#
# Commands are frozen msgspec structs rather than dataclasses: one is built per step of every
# task, and a struct is built ~4x faster than a frozen dataclass (whose ``__init__`` goes
# through ``object.__setattr__``), and its class ~10x faster at import (issue 17: W1, W5).


class _Command(msgspec.Struct, frozen=True):
    """Equality and hash over every field but ``cause`` (see above)."""

    def _key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in self.__struct_fields__ if f != "cause")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self._key()))


class LookupCache(_Command, frozen=True):
    node_id: str
    key: str
    parts: CacheKeyParts
    serialize: bool
    cause: int = 0


class ExpandMap(_Command, frozen=True):
    """Split a map node's list inputs into per-item inputs (needs the type engine)."""

    node_id: str
    inputs: dict[str, Value]
    mapped: tuple[str, ...]
    cause: int = 0


class Enqueue(_Command, frozen=True):
    """A node has its inputs and waits for admission."""

    node_id: str
    cause: int = 0


class StartAttempt(_Command, frozen=True):
    node_id: str
    attempt: int
    inputs: dict[str, Value]
    cause: int = 0


class ScheduleRetry(_Command, frozen=True):
    node_id: str
    at: float
    cause: int = 0


class CancelAttempt(_Command, frozen=True):
    node_id: str
    cause: int = 0


class ReleaseCache(_Command, frozen=True):
    key: str
    cause: int = 0


class Finished(_Command, frozen=True):
    phase: ExecutionPhase
    cause: int = 0


class WatchSignal(_Command, frozen=True):
    """A gate waits for the signal ``name``: look for it until it arrives."""

    node_id: str
    name: str
    cause: int = 0
