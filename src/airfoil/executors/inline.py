"""The inline executor: attempts run in this thread, right when submitted.

The fastest path (no process spawn, no serialisation round trip) and the easiest to debug:
a breakpoint in a task stops the whole run where you expect it.
"""

from __future__ import annotations

import importlib
from typing import Any

from airfoil.executors.base import RUNTIME_MODULE, AttemptRequest, AttemptResult, Executor
from airfoil.store.base import BlobStore

__all__ = ["InlineExecutor"]


class InlineExecutor(Executor):
    """Runs each attempt synchronously inside :meth:`submit`."""

    name = "inline"

    def __init__(self, blobs: BlobStore, type_engine: Any = None) -> None:
        self._blobs = blobs
        self._type_engine = type_engine
        self._done: list[AttemptResult] = []
        self._runtime: Any = None

    def submit(self, request: AttemptRequest) -> None:
        if self._runtime is None:
            self._runtime = importlib.import_module(RUNTIME_MODULE)
        result = self._runtime.run_attempt(
            request,
            self._blobs,
            type_engine=self._type_engine,
            in_process=True,
            child_calls=self.child_transport,
        )
        self._done.append(result)

    def poll(self, timeout: float | None) -> list[AttemptResult]:
        done, self._done = self._done, []
        return done

    def cancel(self, execution_id: str, node_id: str) -> None:
        return None  # an inline attempt has finished by the time anyone could cancel it
