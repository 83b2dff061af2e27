"""The observing hooks every runtime installs (issue 15): metric chunks and failures are
stored when an attempt ends, a cancelled attempt is forgotten, a failing store or inner hook
never fails the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from airfoil.core.metrics import MetricChunk, encode_chunk, metric_chunk_key
from airfoil.core.phases import ErrorKind
from airfoil.core.records import ErrorInfo, Interface, StoreBatch, TaskSpec
from airfoil.executors.base import AttemptRequest, AttemptResult, Executor
from airfoil.executors.hooks import HookedExecutor, Hooks
from airfoil.executors.observe import ObservingHooks
from airfoil.store.blob import LocalBlobStore
from airfoil.store.memory import MemoryMetaStore
from airfoil.testing.records import make_execution

pytestmark = pytest.mark.unit


class Held(Executor):
    """Takes attempts and reports none (as a running or cancelled attempt)."""

    name = "held"

    def __init__(self) -> None:
        self.cancelled: list[tuple[str, str]] = []

    def submit(self, request: AttemptRequest) -> None:
        return None

    def poll(self, timeout: float | None) -> list[AttemptResult]:
        return []

    def cancel(self, execution_id: str, node_id: str) -> None:
        self.cancelled.append((execution_id, node_id))


def _request(node: str = "n0", attempt: int = 1) -> AttemptRequest:
    task = TaskSpec(name="m.t", version="v1", interface=Interface(), module="m", qualname="t")
    return AttemptRequest(
        execution_id="e1", node_id=node, attempt=attempt, task=task, inputs={}, blob_url="b"
    )


def test_a_cancelled_attempt_is_forgotten() -> None:
    inner = Held()
    ex = HookedExecutor(inner, Hooks())
    ex.submit(_request("n0", 1))
    ex.submit(_request("n1", 1))
    ex.cancel("e1", "n0")
    assert inner.cancelled == [("e1", "n0")]
    assert list(ex._running) == [("e1", "n1", 1)]


def test_metrics_and_failures_are_stored_when_the_attempt_ends(tmp_path: Path) -> None:
    meta, blobs = MemoryMetaStore(), LocalBlobStore(str(tmp_path))
    meta.write(StoreBatch(execution=make_execution("e1")))
    chunk = MetricChunk(["loss"], ["gauge"], [(0, 0, 1.0, 5.0), (0, 1, 0.5, 6.0)])
    blobs.put_bytes(metric_chunk_key("e1", "n0", 1, 0), encode_chunk(chunk))
    hooks = ObservingHooks(meta, blobs)
    request = _request()
    error = ErrorInfo(kind=ErrorKind.USER, type="ValueError", message="row 3 is bad")
    # a failed attempt whose worker could not say how many chunks it wrote: found anyway
    hooks.attempt_ended(request, AttemptResult("e1", "n0", 1, 1.0, 2.0, error=error))
    (series,) = meta.metric_series("e1")
    assert (series.name, series.values, series.task) == ("loss", [1.0, 0.5], "m.t")
    assert not blobs.exists(blobs.uri(metric_chunk_key("e1", "n0", 1, 0)))  # merged, removed
    (group,) = meta.failure_groups("proj")  # make_execution's project
    assert (group.pattern, group.tasks, group.example.at) == ("row <n> is bad", ["m.t@v1"], 2.0)


def test_a_failing_store_or_inner_hook_never_fails_the_run(tmp_path: Path) -> None:
    class Boom(Hooks):
        def attempt_ended(self, request: AttemptRequest, result: AttemptResult) -> None:
            raise RuntimeError("observer broke")

    meta, blobs = MemoryMetaStore(), LocalBlobStore(str(tmp_path))  # no execution e1 stored
    blobs.put_bytes(metric_chunk_key("e1", "n0", 1, 0), b"not a chunk")
    ex = HookedExecutor(Held(), ObservingHooks(meta, blobs, Boom()))
    result = AttemptResult("e1", "n0", 1, 1.0, 2.0, metric_chunks=1)
    ex.submit(_request())
    assert ex._ended([result]) == [result]  # logged, not raised
    assert meta.metric_series("e1") == []
