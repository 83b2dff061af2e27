"""The error of a launch whose execution id or name is taken, where the launch finds it so
(:class:`~airfoil.engine.launcher.Launcher`) and where a store's unique keys do (a launch of
the same id or name that won the race: the SQL and memory stores' batch writes).

A launch whose *id* is taken at the write is an :class:`ExecutionIdTaken` (a
``ConflictError``): the launcher, which alone knows whether it generated that id, launches
again under a new one; an id the user chose (the execution's name) keeps the message that
asks for another ``--name``."""

from __future__ import annotations

from airfoil.core.errors import ConflictError
from airfoil.core.phases import ExecutionPhase
from airfoil.core.records import StoreBatch

__all__ = [
    "ExecutionIdTaken",
    "IdempotencyKeyTaken",
    "execution_taken",
    "idempotency_taken",
    "launch_taken",
]


def execution_taken(project: str, domain: str, shown: str) -> ConflictError:
    """The error for a launch whose execution id or name (``shown``) is taken in ``project``
    and ``domain``: found so before it is written, or by its batch, on the store's unique
    keys, when another launch of it won the race (nothing of the batch is written)."""
    return ConflictError(
        f"an execution named {shown!r} already exists in project {project!r} ({domain}): "
        f"choose another --name, or `airfoil executions resume {shown}` to continue it"
    )


class ExecutionIdTaken(ConflictError):
    """A launch's batch found its execution's id taken (nothing of it was written)."""


def launch_taken(batch: StoreBatch) -> ExecutionIdTaken | None:
    """The error of a batch that launches its execution (it holds the record, queued, and
    the execution's first event: its launch to ``queued``) and whose id is taken; None for
    any other batch. Its message is :func:`execution_taken`'s: the user sees it only where
    the id is theirs (the launcher writes a generated one again under a new id)."""
    ex = batch.execution
    queued = ExecutionPhase.QUEUED.value
    if ex is None or ex.phase != queued:
        return None
    first = ("execution", ex.id, 1, queued)
    if not any((e.kind, e.execution_id, e.seq, e.to_phase) == first for e in batch.events):
        return None
    return ExecutionIdTaken(str(execution_taken(ex.project, ex.domain, ex.display_name)))


class IdempotencyKeyTaken(ConflictError):
    """A launch's batch found its idempotency key held by another execution of its project
    (a launch with that key that won the race): nothing of it was written. The server reads
    the holder and answers with it (or refuses a different request under the same key)."""

    def __init__(self, project: str, key: str) -> None:
        super().__init__(
            f"the idempotency key {key!r} already launched an execution in project {project!r}"
        )
        self.project = project
        self.key = key


def idempotency_taken(batch: StoreBatch) -> IdempotencyKeyTaken | None:
    """:class:`IdempotencyKeyTaken` for a batch that launches an execution with a key."""
    ex = batch.execution
    if ex is None or not ex.idempotency_key:
        return None
    return IdempotencyKeyTaken(ex.project, ex.idempotency_key)
