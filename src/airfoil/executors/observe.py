"""The observability hooks every runtime installs: when an attempt ends, the metric points
its task logged (chunks in the blob store, see :mod:`airfoil.core.metrics`) are merged and
stored with the attempt in the metadata store, and a failed attempt is stored with its
signature (:mod:`airfoil.core.failures`) for ``airfoil failures``. Every ended attempt is
also recorded as a :class:`~airfoil.core.history.TaskRun` (the task version's history, for
``airfoil tasks stats`` and anomaly flags), in batches: the runs wait in memory and are
written in one transaction when :data:`HISTORY_BATCH` are waiting, when the oldest has waited
:data:`HISTORY_MAX_WAIT_S` (checked as attempts end), when an execution finishes (the
engine's ``on_finished`` callback, called as it carries out ``Finished``) and when the
runtime closes. A driver killed meanwhile loses
the runs waiting since the last write: the history misses them (the runs themselves, their
attempts and outputs, are recorded by the engine as always).

Cost: an attempt that logged nothing costs one integer test and one append when it ends
(the worker says how many chunks it wrote, ``AttemptResult.metric_chunks``); only a failed
attempt that reported none (a worker that crashed before it could say) is probed for chunk 0
in the blob store, so what a crashed task flushed is kept too.

Invariants: storing is idempotent (a series is replaced whole), chunks are deleted only
after their series are stored, and a failure here is logged and never fails the run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from airfoil.core.blobs import BlobStore
from airfoil.core.errors import NotFoundError
from airfoil.core.failures import failure_record
from airfoil.core.history import TaskRun
from airfoil.core.metrics import MetricChunk, decode_chunk, merge_chunks, metric_chunk_key
from airfoil.executors.base import AttemptRequest, AttemptResult
from airfoil.executors.hooks import Hooks
from airfoil.store._observability import ObservabilityStore
from airfoil.store.base import MetaStore

__all__ = ["HISTORY_BATCH", "HISTORY_MAX_WAIT_S", "ObservingHooks", "store_metrics"]

log = logging.getLogger("airfoil.observe")

#: Most chunks read for one attempt (a runaway task cannot make the driver read forever).
MAX_CHUNKS = 100_000
#: Task runs written together (see the module docstring).
HISTORY_BATCH = 256
#: The longest a task run waits to be written while attempts keep ending, in seconds.
HISTORY_MAX_WAIT_S = 2.0


def _read_chunks(blobs: BlobStore, eid: str, nid: str, attempt: int, known: int) -> list[bytes]:
    """The stored chunks of an attempt: the ``known`` ones, then any further ones found."""
    found: list[bytes] = []
    index = 0
    while index < MAX_CHUNKS:
        uri = blobs.uri(metric_chunk_key(eid, nid, attempt, index))
        if index >= known and not blobs.exists(uri):
            break
        try:
            found.append(blobs.get_bytes(uri))
        except NotFoundError:
            break
        index += 1
    return found


def store_metrics(
    meta: ObservabilityStore,
    blobs: BlobStore,
    request: AttemptRequest,
    known_chunks: int,
) -> int:
    """Merge the attempt's metric chunks into series and store them; the number of series.

    A damaged chunk is skipped (logged): the others are kept.
    """
    eid, nid, attempt = request.execution_id, request.node_id, request.attempt
    raw = _read_chunks(blobs, eid, nid, attempt, known_chunks)
    if not raw:
        return 0
    chunks: list[MetricChunk] = []
    for i, data in enumerate(raw):
        try:
            chunks.append(decode_chunk(data))
        except Exception:
            log.warning("metric chunk %d of %s/%s attempt %d is damaged", i, eid, nid, attempt)
    series = merge_chunks(chunks, eid, nid, attempt, request.task.name)
    meta.put_metric_series(series)
    for i in range(len(raw)):
        try:
            blobs.delete(blobs.uri(metric_chunk_key(eid, nid, attempt, i)))
        except Exception:  # tidying only; the series are stored
            break
    return len(series)


class ObservingHooks(Hooks):
    """Stores what attempts logged about themselves, then tells ``inner`` (the entry point's
    own hooks, if any) everything as it comes."""

    def __init__(
        self,
        meta: MetaStore,
        blobs: BlobStore,
        inner: Hooks | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.meta = meta
        self._monotonic = monotonic
        self.blobs = blobs
        self.inner = inner
        self._runs: list[TaskRun] = []
        self._runs_since = 0.0
        self._runs_lock = threading.Lock()

    def attempt_context(self, request: AttemptRequest) -> dict[str, str]:
        return {} if self.inner is None else self.inner.attempt_context(request)

    def attempt_started(self, request: AttemptRequest) -> None:
        if self.inner is not None:
            self.inner.attempt_started(request)

    def attempt_ended(self, request: AttemptRequest, result: AttemptResult) -> None:
        self._record_run(request, result)
        if result.metric_chunks or result.error is not None:
            try:
                store_metrics(self.meta, self.blobs, request, result.metric_chunks)
            except Exception:
                log.exception(
                    "storing the metrics of %s/%s attempt %d failed",
                    request.execution_id,
                    request.node_id,
                    request.attempt,
                )
        if result.error is not None:
            try:
                self._store_failure(request, result)
            except Exception:
                log.exception(
                    "storing the failure of %s/%s attempt %d failed",
                    request.execution_id,
                    request.node_id,
                    request.attempt,
                )
        if self.inner is not None:
            self.inner.attempt_ended(request, result)

    def _record_run(self, request: AttemptRequest, result: AttemptResult) -> None:
        run = TaskRun(
            execution_id=request.execution_id,
            node_id=request.node_id,
            attempt=request.attempt,
            task=request.task.name,
            version=request.task.version,
            started_at=result.started_at,
            ended_at=result.ended_at,
            ok=result.error is None,
        )
        now = self._monotonic()
        with self._runs_lock:
            runs = self._runs
            if not runs:
                self._runs_since = now
            runs.append(run)
            due = len(runs) >= HISTORY_BATCH or now - self._runs_since >= HISTORY_MAX_WAIT_S
        if due:
            self.flush_history()

    def flush_history(self) -> int:
        """Write the task runs waiting (one transaction); how many. Never raises: a failed
        write is logged and its runs are dropped (the history misses them, nothing else)."""
        with self._runs_lock:
            runs, self._runs = self._runs, []
        if not runs:
            return 0
        try:
            self.meta.put_task_runs(runs)
        except Exception:
            log.exception("storing the history of %d task runs failed", len(runs))
            return 0
        return len(runs)

    def execution_finished(self, execution_id: str) -> None:
        """An execution's drive finished: write the task runs waiting (so its history is
        there for its notifications and for another process reading it next)."""
        self.flush_history()

    def close(self) -> None:
        """Write what waits (the runtime closes)."""
        self.flush_history()

    def _store_failure(self, request: AttemptRequest, result: AttemptResult) -> None:
        assert result.error is not None
        project = self.meta.get_execution(request.execution_id).project
        self.meta.put_failure(
            failure_record(
                result.error,
                execution_id=request.execution_id,
                node_id=request.node_id,
                attempt=request.attempt,
                project=project,
                task=request.task.name,
                version=request.task.version,
                at=result.ended_at,
            )
        )

    def command_carried_out(self, execution_id: str, command: object, cause: int) -> None:
        if self.inner is not None:
            self.inner.command_carried_out(execution_id, command, cause)

    def http_request(self, method: str, path: str, status: int, duration_s: float) -> None:
        if self.inner is not None:
            self.inner.http_request(method, path, status, duration_s)
