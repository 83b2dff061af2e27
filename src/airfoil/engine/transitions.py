"""The node transition table: which phase moves are allowed, and what each one records.

Every node move goes through ``RunState._move``, which looks the move up in ``TRANSITIONS``;
a move that is not in the table is a bug in the engine and raises :class:`InvalidTransition`.
Each handler updates the node record's timestamps and counters; ``_move`` appends the event
(with its cause) to the run's log.

Map items keep their phase in one byte each (``ITEM_PHASES[code]``: a 100,000-item map has
no record per item), and every item move is checked against the same table, through
:data:`ITEM_MOVES` (the table as bytes, one lookup per move): ``MapState.move``.
"""

from __future__ import annotations

from collections.abc import Callable

from airfoil.core.errors import AirfoilError
from airfoil.core.phases import ExecutionPhase
from airfoil.core.phases import NodePhase as N
from airfoil.core.records import NodeRecord

__all__ = [
    "EXECUTION_PHASE_OF",
    "ITEM_MOVES",
    "ITEM_PHASES",
    "PHASE_OF",
    "TERMINAL_EXECUTION_VALUES",
    "TERMINAL_PHASES",
    "TRANSITIONS",
    "VALUE_OF",
    "InvalidTransition",
    "check_item_move",
]

#: Phases by their stored value, and each phase's value: ``N(value)``, ``phase.value`` and
#: ``phase.terminal`` are Python-level calls in ``enum``, and the engine asks them on every
#: move of every node (dict lookups cost a tenth).
PHASE_OF: dict[str, N] = {p.value: p for p in N}
VALUE_OF: dict[N, str] = {p: p.value for p in N}
TERMINAL_PHASES: frozenset[N] = frozenset(p for p in N if p.terminal)
EXECUTION_PHASE_OF: dict[str, ExecutionPhase] = {p.value: p for p in ExecutionPhase}
#: The values of the terminal execution phases (asked per event: no enum property call).
TERMINAL_EXECUTION_VALUES: frozenset[str] = frozenset(p.value for p in ExecutionPhase if p.terminal)


class InvalidTransition(AirfoilError):
    """The engine tried a phase move its transition table does not allow."""


def _queued(rec: NodeRecord, now: float) -> None:
    rec.queued_at = now
    rec.retry_at = None


def _running(rec: NodeRecord, now: float) -> None:
    if rec.started_at is None:
        rec.started_at = now


def _retrying(rec: NodeRecord, now: float) -> None:
    pass


def _ended(rec: NodeRecord, now: float) -> None:
    rec.ended_at = now


Handler = Callable[[NodeRecord, float], None]

TRANSITIONS: dict[tuple[N, N], Handler] = {
    (N.PENDING, N.QUEUED): _queued,
    (N.PENDING, N.RUNNING): _running,  # subworkflow nodes, when a child starts
    (N.PENDING, N.SUCCEEDED): _ended,  # subworkflow nodes finishing with no child run
    (N.PENDING, N.SKIPPED): _ended,
    (N.PENDING, N.ABORTED): _ended,
    (N.PENDING, N.FAILED): _ended,  # a subworkflow whose child failed before it started
    (N.QUEUED, N.RUNNING): _running,
    (N.QUEUED, N.SUCCEEDED): _ended,  # cache hit
    (N.QUEUED, N.FAILED): _ended,  # cannot be scheduled / inputs unresolvable
    (N.QUEUED, N.ABORTED): _ended,
    (N.RUNNING, N.SUCCEEDED): _ended,
    (N.RUNNING, N.FAILED): _ended,
    (N.RUNNING, N.RETRYING): _retrying,
    (N.RUNNING, N.QUEUED): _queued,  # attempt lost on resume, retried at once
    (N.RUNNING, N.ABORTED): _ended,
    (N.RETRYING, N.QUEUED): _queued,
    (N.RETRYING, N.ABORTED): _ended,
    (N.RETRYING, N.FAILED): _ended,
}


#: The phases of a map item, by the byte that stores each (``MapState.phase``).
ITEM_PHASES: tuple[N, ...] = (
    N.PENDING,
    N.QUEUED,
    N.RUNNING,
    N.RETRYING,
    N.SUCCEEDED,
    N.FAILED,
    N.ABORTED,  # stopped unfinished: its map failed, or the run was aborted
)
_N_ITEM = len(ITEM_PHASES)
#: ``ITEM_MOVES[frm * len(ITEM_PHASES) + to]`` is 1 when ``TRANSITIONS`` allows the move.
ITEM_MOVES = bytes(
    1 if (frm, to) in TRANSITIONS else 0 for frm in ITEM_PHASES for to in ITEM_PHASES
)


def check_item_move(name: str, frm: int, to: int) -> None:
    """Raise :class:`InvalidTransition` unless map item ``name`` may move ``frm`` -> ``to``
    (phase bytes)."""
    if not ITEM_MOVES[frm * _N_ITEM + to]:
        raise InvalidTransition(
            f"map item {name}: {ITEM_PHASES[frm].value} -> {ITEM_PHASES[to].value}"
        )
