"""Blob integrity in runs: a cached output damaged in the blob store is recomputed, and a
damaged blob read as a task input fails the node at once (a data error, not retried) with a
clear CorruptBlobError."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import airfoil as af
from airfoil.engine.local import convert_inputs, spec_of
from airfoil.local import get_runtime

pytestmark = pytest.mark.integration

RUNS: list[int] = []


def _damage(path: str) -> None:
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    Path(path).write_bytes(bytes(data))


@af.task(cache=True)
def numbers(n: int) -> list[int]:
    RUNS.append(n)
    return list(range(n))


@af.task
def add_up(xs: list[int]) -> int:
    return sum(xs)


@af.workflow
def pipeline(n: int) -> int:
    return add_up(xs=numbers(n=n))


@af.task(cache=True)
def frame(n: int) -> pd.DataFrame:
    RUNS.append(n)
    return pd.DataFrame({"x": list(range(n))})


@af.task
def frame_total(df: pd.DataFrame) -> int:
    return int(df["x"].sum())


@af.workflow
def frame_pipeline(n: int) -> int:
    return frame_total(df=frame(n=n))


# A list is written as bytes (put_bytes replaces a blob), a frame as a file, renamed to its
# content-addressed key unless one is there already: before, the damaged blob was kept as
# "already stored" and the next task failed with a data error in every later run too.
@pytest.mark.parametrize(("task", "flow"), [(numbers, pipeline), (frame, frame_pipeline)])
def test_a_corrupt_cached_output_is_recomputed_not_served(task: Any, flow: Any) -> None:
    RUNS.clear()
    n = 50_000  # offloaded: larger than the inline threshold
    assert flow(n=n) == sum(range(n))
    rt = get_runtime()
    (entry,) = rt.meta.list_cache(task=task.name)
    (value,) = entry.outputs.values()
    assert value.uri
    path = rt.blobs.local_path(value.uri)
    assert path is not None
    _damage(path)
    assert flow(n=n) == sum(range(n))  # the right answer, from a recompute
    assert [n] * 2 == RUNS
    latest = rt.meta.list_executions(limit=1)[0]
    node = rt.meta.get_node(latest.id, "n0")
    assert node.cache_status == "put" and "corrupt" in node.cache_reason
    assert flow(n=n) == sum(range(n))  # repaired: a hit again
    assert [n] * 2 == RUNS


def test_a_corrupt_input_blob_fails_the_node_with_a_clear_error() -> None:
    rt = get_runtime()
    xs = list(range(50_000))
    values = convert_inputs(add_up, {"xs": xs}, rt)
    assert values["xs"].uri, "a 50,000-item list is offloaded"
    engine = rt.engine()
    record = engine.launch(spec_of(add_up), values)
    path = rt.blobs.local_path(values["xs"].uri)
    assert path is not None
    _damage(path)
    record = engine.drive(record.id)
    assert record.phase == "failed"
    (node,) = rt.meta.get_nodes(record.id)
    assert node.error is not None
    assert node.error.type == "CorruptBlobError"
    assert "corrupt" in node.error.message and values["xs"].uri in node.error.message
    # A data error, named by input and blob hash, with what to do; and never retried: reading
    # the same damaged bytes again cannot succeed (the task allows 3 system retries).
    assert node.error.kind == "data"
    assert "input 'xs'" in node.error.message and values["xs"].hash in node.error.message
    assert "rerun" in node.error.message
    assert add_up.spec.system_retries == 3 and add_up.spec.retries == 0
    attempts = rt.meta.get_attempts(record.id, "n0")
    assert [a.phase for a in attempts] == ["failed"]
    events = [e for e in rt.meta.get_events(record.id) if e.node_id == "n0"]
    assert any("data error" in e.cause and "not retried" in e.cause for e in events)
