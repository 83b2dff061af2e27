"""The executor seam: ``submit(request)`` then ``poll()`` for results.

An executor runs attempts somewhere (this thread, worker processes, a Ray cluster) and reports
each one's outcome exactly once as an :class:`AttemptResult`. It never touches the metadata
store: the engine records everything. The code that runs inside a worker is
``airfoil.runtime.worker.run_attempt``, referenced by module name so that executors do not
import user-code machinery.
"""

from __future__ import annotations

import abc
import os

import msgspec

from airfoil.core.records import ErrorInfo, TaskSpec, Value
from airfoil.core.resources import ResourceSpec

__all__ = [
    "AttemptRequest",
    "AttemptResult",
    "Executor",
    "attempt_log_key",
    "live_log_key",
    "machine_capacity",
]

RUNTIME_MODULE = "airfoil.runtime.worker"


def attempt_log_key(execution_id: str, node_id: str, attempt: int) -> str:
    """Where the log of an attempt is written in the blob store when the attempt ends."""
    return f"logs/{execution_id}/{node_id}/{attempt}.log"


def live_log_key(log_key: str) -> str:
    """Where a running attempt's log so far is copied (removed when the attempt ends)."""
    return log_key + ".live"


class AttemptRequest(msgspec.Struct, frozen=True, omit_defaults=True):
    """Everything a worker needs to run one attempt."""

    execution_id: str
    node_id: str
    attempt: int
    task: TaskSpec
    inputs: dict[str, Value]
    blob_url: str
    code_root: str = ""
    log_key: str = ""
    secrets: dict[str, str] = {}


class AttemptResult(msgspec.Struct, frozen=True, omit_defaults=True):
    """The outcome of one attempt: outputs, or an error of kind ``user`` or ``system``."""

    execution_id: str
    node_id: str
    attempt: int
    started_at: float
    ended_at: float
    outputs: dict[str, Value] | None = None
    error: ErrorInfo | None = None
    log_uri: str = ""
    worker: str = ""


class Executor(abc.ABC):
    """Runs attempts. One scheduling loop drives every executor the same way."""

    name: str = "executor"

    @abc.abstractmethod
    def submit(self, request: AttemptRequest) -> None:
        """Start an attempt. Must not block for long (the inline executor is the exception:
        it runs the attempt right away, which makes debugging with a breakpoint trivial)."""

    @abc.abstractmethod
    def poll(self, timeout: float | None) -> list[AttemptResult]:
        """Return finished attempts, waiting up to ``timeout`` seconds (None: until one
        finishes) if none has finished yet. Each attempt is reported exactly once."""

    @abc.abstractmethod
    def cancel(self, execution_id: str, node_id: str) -> None:
        """Stop an attempt if it is running. Nothing further is reported for it."""

    def capacity(self) -> ResourceSpec:
        """The resources attempts can use at once (default: this machine)."""
        return machine_capacity()

    def max_parallel(self) -> int:
        """How many attempts may run at once."""
        return 1

    def running(self) -> int:
        """How many attempts are running now."""
        return 0

    def close(self) -> None:  # noqa: B027 - optional hook
        """Stop workers and release resources."""


def machine_capacity() -> ResourceSpec:
    """This machine's CPUs, memory and GPUs (``AIRFOIL_GPUS`` lets tests pretend)."""
    import psutil

    gpus = int(os.environ.get("AIRFOIL_GPUS", "0") or 0)
    return ResourceSpec(
        cpu=float(os.cpu_count() or 1), mem=int(psutil.virtual_memory().total), gpu=gpus
    )
