"""The context of a running task: ``current_context()``."""

from __future__ import annotations

import contextvars
import logging
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ExecutionContext", "current_context"]


@dataclass
class ExecutionContext:
    """What a running task can know about its run.

    Attributes:
        execution_id: the execution this attempt belongs to.
        node_id: the node being run (``"n0"``, ``"n1.n0"`` inside a subworkflow).
        attempt: 1 for the first try, 2 for the first retry, ...
        task: the task's name.
        logger: a logger whose records go to this attempt's log (made on first use).
        secrets: secrets the task declared in ``secret_requests``.
        context: what the driver's hooks sent with this attempt (trace ids; see
            :mod:`airfoil.executors.hooks`).
    """

    execution_id: str
    node_id: str
    attempt: int
    task: str
    secrets: dict[str, str] = field(default_factory=dict)
    context: dict[str, str] = field(default_factory=dict)
    log_stream: Any = None
    child_runner: Any = None  # runs a task called from this one as a durable child node
    _children: int = 0
    _scratch: str | None = None
    _logger: logging.Logger | None = None
    _handler: logging.Handler | None = None

    @property
    def logger(self) -> logging.Logger:
        """A logger whose records go to this attempt's log."""
        if self._logger is None:
            logger = logging.getLogger(f"airfoil.task.{self.task}")
            if self.log_stream is not None:
                handler = logging.StreamHandler(self.log_stream)
                handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
                logger.addHandler(handler)
                logger.setLevel(logging.INFO)
                self._handler = handler
            self._logger = logger
        return self._logger

    def next_child(self) -> int:
        """The order number of the next child call of this attempt."""
        self._children += 1
        return self._children

    @property
    def scratch_dir(self) -> str:
        """A private temporary directory for this attempt, created on first use."""
        if self._scratch is None:
            self._scratch = tempfile.mkdtemp(prefix=f"airfoil-{self.execution_id}-{self.node_id}-")
        return self._scratch

    @property
    def working_directory(self) -> str:
        """Alias of :attr:`scratch_dir` (flytekit's name)."""
        return self.scratch_dir

    def cleanup(self) -> None:
        """Detach the log handler and remove the scratch directory (after the attempt)."""
        if self._logger is not None and self._handler is not None:
            self._logger.removeHandler(self._handler)
            self._handler = None
        if self._scratch and os.path.isdir(self._scratch):
            import shutil

            shutil.rmtree(self._scratch, ignore_errors=True)


_current: contextvars.ContextVar[ExecutionContext | None] = contextvars.ContextVar(
    "airfoil_execution_context", default=None
)


def current_context() -> ExecutionContext:
    """The context of the task attempt running now.

    Outside a running task (for example a task function called as plain Python) this is a
    context with execution id ``"local"``.
    """
    ctx = _current.get()
    if ctx is None:
        # Not installed: being inside a running task is what the context variable means
        # (a task called while one runs becomes a plain call).
        return ExecutionContext(execution_id="local", node_id="local", attempt=1, task="local")
    return ctx


def set_context(ctx: ExecutionContext | None) -> contextvars.Token[ExecutionContext | None]:
    """Install a context (runtime only)."""
    return _current.set(ctx)


def reset_context(token: contextvars.Token[ExecutionContext | None]) -> None:
    """Undo :func:`set_context`."""
    _current.reset(token)
