"""Metrics a task logs: the recorder's steps, counters, errors and flushing, and how chunks
merge into series (issue 15)."""

from __future__ import annotations

import math
import threading
import time

import pytest

import airfoil as af
from airfoil.core.errors import InvalidInputError
from airfoil.core.metrics import decode_chunk, merge_chunks
from airfoil.sdk._context import ExecutionContext, reset_context, set_context
from airfoil.sdk._metrics import MetricRecorder

pytestmark = pytest.mark.unit


class Sink:
    def __init__(self) -> None:
        self.chunks: dict[int, bytes] = {}
        self.fail = False

    def __call__(self, index: int, data: bytes) -> None:
        if self.fail:
            raise OSError("disk full")
        assert index not in self.chunks, "a chunk is never rewritten"
        self.chunks[index] = data

    def series(self) -> dict[str, tuple[str, list[int], list[float | None]]]:
        chunks = [decode_chunk(self.chunks[i]) for i in sorted(self.chunks)]
        return {
            s.name: (s.kind, s.steps, s.values) for s in merge_chunks(chunks, "e", "n0", 1, "t")
        }


def test_steps_counters_and_chunks_merge_in_logged_order() -> None:
    sink = Sink()
    rec = MetricRecorder(sink, interval=60)
    rec.log("loss", 1.0)
    rec.log("loss", 0.5)
    rec.count("batches")
    rec.flush()
    rec.log("loss", 0.25, step=10)
    rec.log("loss", 0.2)  # follows the explicit step
    rec.count("batches", 3)
    rec.log("acc", float("nan"))
    assert rec.close() == 2
    assert sink.series() == {
        "loss": ("gauge", [0, 1, 10, 11], [1.0, 0.5, 0.25, 0.2]),
        "batches": ("counter", [0, 1], [1.0, 4.0]),
        "acc": ("gauge", [0], [None]),
    }


def test_bad_names_values_and_mixed_kinds_are_refused_with_the_fix() -> None:
    rec = MetricRecorder(Sink())
    rec.log("loss", 1)
    with pytest.raises(InvalidInputError, match="was logged with log_metric"):
        rec.count("loss")
    with pytest.raises(InvalidInputError, match="not a number"):
        rec.log("loss", "high")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="is a bool"):
        rec.log("loss", True)
    with pytest.raises(InvalidInputError, match="non-empty string"):
        rec.log("", 1.0)
    with pytest.raises(InvalidInputError, match="step"):
        rec.log("loss", 1.0, step=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="finite"):
        rec.count("n", math.inf)


def test_numpy_like_scalars_are_taken_by_their_float() -> None:
    class Scalar:
        def __float__(self) -> float:
            return 2.5

    sink = Sink()
    rec = MetricRecorder(sink)
    rec.log("x", Scalar())  # type: ignore[arg-type]
    rec.close()
    assert sink.series()["x"][2] == [2.5]


def test_points_are_flushed_periodically_while_the_task_runs() -> None:
    sink = Sink()
    rec = MetricRecorder(sink, interval=0.05)
    rec.log("loss", 1.0)
    deadline = time.monotonic() + 5
    while not sink.chunks and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(sink.chunks) == 1, "the timer wrote what was logged without close()"
    rec.log("loss", 2.0)
    assert rec.close() == 2
    assert sink.series()["loss"][2] == [1.0, 2.0]


def test_a_failed_write_keeps_the_points_for_the_next_flush() -> None:
    sink = Sink()
    rec = MetricRecorder(sink, interval=60)
    rec.log("loss", 1.0)
    sink.fail = True
    rec.flush()
    assert sink.chunks == {}
    sink.fail = False
    rec.log("loss", 2.0)
    assert rec.close() == 1
    assert sink.series()["loss"][2] == [1.0, 2.0]


def test_a_full_buffer_is_written_at_once() -> None:
    sink = Sink()
    rec = MetricRecorder(sink, interval=60, max_points=100)
    for i in range(250):
        rec.log("x", i)
    assert len(sink.chunks) == 2
    rec.close()
    assert sink.series()["x"][1] == list(range(250))


def test_logging_from_threads_loses_nothing() -> None:
    sink = Sink()
    rec = MetricRecorder(sink, interval=0.01)

    def work() -> None:
        for _ in range(2000):
            rec.count("items")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rec.close()
    _kind, steps, values = sink.series()["items"]
    assert steps == list(range(8000)) and values[-1] == 8000.0


def test_outside_a_task_metrics_stay_in_the_process() -> None:
    af.current_context().log_metric("outside_loss", 3.0)
    af.current_context().log_metric("outside_loss", 2.0)
    assert af.current_context().metrics.logged()["outside_loss"] == [(0, 3.0), (1, 2.0)]


def test_inside_a_task_the_context_writes_through_its_writer() -> None:
    sink = Sink()
    ctx = ExecutionContext("e", "n0", 1, "t", metric_writer=sink)
    token = set_context(ctx)
    try:
        af.current_context().log_metric("loss", 0.1)
        af.current_context().count("seen", 2)
    finally:
        reset_context(token)
    assert ctx.metrics.close() == 1
    assert sink.series() == {
        "loss": ("gauge", [0], [0.1]),
        "seen": ("counter", [0], [2.0]),
    }
