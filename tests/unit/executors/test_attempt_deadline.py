"""A timeout counts from the executor's hand-off of the attempt (``AttemptRequest.deadline``):
the runtime arms its interrupt for what is left of it, and says so when nothing is left.
(Through real workers, with slow imports: tests/integration/executors/test_process_executor.py.)
"""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import pytest

import airfoil as af
from airfoil.executors.base import AttemptRequest
from airfoil.runtime.worker import run_attempt
from airfoil.store.blob import LocalBlobStore
from airfoil.types import ValueContext, default_type_engine

pytestmark = pytest.mark.unit

_RAN: list[float] = []


@af.task(timeout=10)
def _naps(seconds: float) -> float:
    _RAN.append(seconds)
    time.sleep(seconds)
    return seconds


def _request(tmp_path: Path, seconds: float, deadline: float) -> AttemptRequest:
    blobs = LocalBlobStore(str(tmp_path / "blobs"))
    value = default_type_engine().to_value(seconds, float, ValueContext(blobs=blobs))
    return AttemptRequest(
        execution_id="ex1",
        node_id="n0",
        attempt=1,
        task=_naps.spec,
        inputs={"seconds": value},
        blob_url=str(tmp_path / "blobs"),
        deadline=deadline,
    )


def test_an_attempt_handed_over_after_its_deadline_says_so_and_runs_nothing(
    tmp_path: Path,
) -> None:
    _RAN.clear()
    request = _request(tmp_path, 0.0, deadline=time.time() - 1.5)
    result = run_attempt(request, LocalBlobStore(str(tmp_path / "blobs")))
    assert result.error is not None and result.error.kind == "system"
    assert result.error.type == "TaskTimeoutError"
    assert "before its worker could start it" in result.error.message
    assert "handed over 11." in result.error.message  # 10 s timeout + 1.5 s late
    assert _RAN == []


def test_the_interrupt_fires_at_the_deadline_not_a_whole_timeout_after_the_start(
    tmp_path: Path,
) -> None:
    _RAN.clear()
    # Handed over 9.7 s ago (of a 10 s timeout): 0.3 s are left, not 10.
    request = _request(tmp_path, 5.0, deadline=time.time() + 0.3)
    result = run_attempt(request, LocalBlobStore(str(tmp_path / "blobs")))
    assert result.error is not None and result.error.type == "TaskTimeoutError"
    assert "timeout of 10s" in result.error.message
    assert "time.sleep(seconds)" in result.error.traceback
    assert result.ended_at - result.started_at < 4.0  # not the 5 s nap
    assert _RAN == [5.0]


def test_a_worker_clock_behind_the_executors_never_gets_more_than_the_timeout(
    tmp_path: Path,
) -> None:
    # A deadline far ahead (another node's clock): the timeout itself still bounds it.
    request = _request(tmp_path, 5.0, deadline=time.time() + 3600)
    short = msgspec.structs.replace(request.task, timeout_s=0.3)
    result = run_attempt(
        msgspec.structs.replace(request, task=short), LocalBlobStore(str(tmp_path / "blobs"))
    )
    assert result.error is not None and result.error.type == "TaskTimeoutError"
    assert result.ended_at - result.started_at < 4.0
