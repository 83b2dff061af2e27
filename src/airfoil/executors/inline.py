"""The inline executor: attempts run in this thread, right when submitted.

The fastest path (no process spawn, no serialisation round trip) and the easiest to debug:
a breakpoint in a task stops the whole run where you expect it.

What running in the driver's own process cannot do:

- stop a task hard at its timeout. The runtime raises ``TaskTimeoutError`` inside the task when
  the timeout passes (main thread only); a task that catches it and goes on is still failed
  as timed out when it returns, and its late result is discarded -- but it ran to its end.
  The process executor stops the worker instead.
- survive a task that ends the process (``os._exit``, a segfault, a C extension's abort): the
  driver dies with it. The execution is left ``running`` with a lease that expires; resuming
  it on the inline executor runs the same task again. Run such tasks on the process executor,
  which reports a system error for the attempt and keeps going.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager

from airfoil.core.blobs import BlobStore
from airfoil.core.errors import TaskTimeoutError
from airfoil.core.phases import ErrorKind
from airfoil.core.records import ErrorInfo, TaskSpec
from airfoil.executors.base import AttemptRequest, AttemptResult, AttemptRuntime, Executor

__all__ = ["InlineExecutor", "overran_timeout"]


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
        # Run first, then look the list up: an attempt that calls tasks drives the loop
        # re-entrantly, and its polls replace ``_done`` while this attempt runs.
        result = self.run_now(request)
        self._done.append(result)

    def run_now(self, request: AttemptRequest) -> AttemptResult:
        result = self._runtime.run_attempt(
            request, self._blobs, in_process=True, child_calls=self.child_transport
        )
        return overran_timeout(request, result)

    def preload(self, task: TaskSpec, code_root: str) -> None:
        self._runtime.preload(task, code_root)

    def session(self) -> AbstractContextManager[None]:
        return self._runtime.session()

    def poll(self, timeout: float | None) -> list[AttemptResult]:
        done, self._done = self._done, []
        return done

    def has_results(self) -> bool:
        return bool(self._done)

    def cancel(self, execution_id: str, node_id: str) -> None:
        return None  # an inline attempt has finished by the time anyone could cancel it


def overran_timeout(request: AttemptRequest, result: AttemptResult) -> AttemptResult:
    """``result``, or a timeout error in its place when the attempt ran past the task's
    timeout (a task that caught the in-process timeout and went on): the late outputs are
    discarded, whatever the task returned."""
    limit = request.task.timeout_s
    took = result.ended_at - result.started_at
    if not limit or took <= limit:
        return result
    if result.error is not None and result.error.type == TaskTimeoutError.__qualname__:
        return result
    message = (
        f"the attempt ran past its timeout of {limit:g}s (it ran {took:.1f}s: the task caught "
        "the timeout and went on; its result was discarded). The inline executor cannot stop "
        "a task hard; run it on the process executor (--executor process) for a hard stop"
    )
    return AttemptResult(
        execution_id=result.execution_id,
        node_id=result.node_id,
        attempt=result.attempt,
        started_at=result.started_at,
        ended_at=max(result.ended_at, time.time()),
        outputs=None,
        error=ErrorInfo(kind=ErrorKind.SYSTEM, type=TaskTimeoutError.__qualname__, message=message),
        log_uri=result.log_uri,
        worker=result.worker,
    )
