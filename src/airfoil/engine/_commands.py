"""Commands the run state machine returns: what the driver must carry out (after it has
committed the state changes that led to them)."""

from __future__ import annotations

from dataclasses import dataclass

from airfoil.core.phases import ExecutionPhase
from airfoil.core.records import CacheKeyParts, Value

__all__ = [
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
]

#: The error type of an attempt the scheduler preempted (kind ``system``): it is retried
#: without using any retry budget.
PREEMPTED = "Preempted"

# --- commands -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LookupCache:
    node_id: str
    key: str
    parts: CacheKeyParts
    serialize: bool


@dataclass(frozen=True)
class ExpandMap:
    """Split a map node's list inputs into per-item inputs (needs the type engine)."""

    node_id: str
    inputs: dict[str, Value]
    mapped: tuple[str, ...]


@dataclass(frozen=True)
class Enqueue:
    """A node has its inputs and waits for admission."""

    node_id: str


@dataclass(frozen=True)
class StartAttempt:
    node_id: str
    attempt: int
    inputs: dict[str, Value]


@dataclass(frozen=True)
class ScheduleRetry:
    node_id: str
    at: float


@dataclass(frozen=True)
class CancelAttempt:
    node_id: str


@dataclass(frozen=True)
class ReleaseCache:
    key: str


@dataclass(frozen=True)
class Finished:
    phase: ExecutionPhase


@dataclass(frozen=True)
class WatchSignal:
    """A gate waits for the signal ``name``: look for it until it arrives."""

    node_id: str
    name: str
