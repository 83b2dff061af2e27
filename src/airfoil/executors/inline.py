"""The inline executor: attempts run in this thread, right when submitted.

The fastest path (no process spawn, no serialisation round trip) and the easiest to debug:
a breakpoint in a task stops the whole run where you expect it.
"""

from __future__ import annotations

from airfoil.core.blobs import BlobStore
from airfoil.core.records import TaskSpec
from airfoil.executors.base import AttemptRequest, AttemptResult, AttemptRuntime, Executor

__all__ = ["InlineExecutor"]


class InlineExecutor(Executor):
    """Runs each attempt synchronously inside :meth:`submit`.

    Args:
        blobs: the blob store attempts read inputs from and write outputs to.
        runtime: the code that runs an attempt (``airfoil.runtime``'s, given by the entry
            point that builds the executor).
    """

    name = "inline"

    def __init__(self, blobs: BlobStore, runtime: AttemptRuntime) -> None:
        self._blobs = blobs
        self._runtime = runtime
        self._done: list[AttemptResult] = []

    def submit(self, request: AttemptRequest) -> None:
        self._done.append(self.run_now(request))

    def run_now(self, request: AttemptRequest) -> AttemptResult:
        result = self._runtime.run_attempt(
            request, self._blobs, in_process=True, child_calls=self.child_transport
        )
        return result

    def preload(self, task: TaskSpec, code_root: str) -> None:
        self._runtime.preload(task, code_root)

    def poll(self, timeout: float | None) -> list[AttemptResult]:
        done, self._done = self._done, []
        return done

    def cancel(self, execution_id: str, node_id: str) -> None:
        return None  # an inline attempt has finished by the time anyone could cancel it
