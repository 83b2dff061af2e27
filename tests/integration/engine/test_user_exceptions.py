"""A task's exception is the user's error whatever it holds: one whose ``str()`` raises is
still a user error (its ``retries``, never the platform's), and one with a message of
megabytes is recorded clipped, so it cannot bloat every record that repeats it (the
execution, its head, the node, the attempt) or the terminal that prints it."""

from __future__ import annotations

from pathlib import Path

import pytest

import airfoil as af
from airfoil.core.records import ERROR_MESSAGE_MAX, ERROR_TRACEBACK_MAX
from airfoil.engine.local import spec_of
from airfoil.engine.runner import Engine
from airfoil.executors.inline import InlineExecutor
from airfoil.runtime.worker import WorkerRuntime
from airfoil.store.blob import open_blob_store
from airfoil.store.memory import MemoryMetaStore
from airfoil.types import ValueContext, default_type_engine

pytestmark = pytest.mark.integration


class UnprintableError(Exception):
    """An exception whose ``str()`` itself fails (a ``__str__`` reading a missing field)."""

    def __str__(self) -> str:
        raise RuntimeError("str exploded")


@af.task(retries=1)
def unprintable(x: int) -> int:
    raise UnprintableError(x)


@af.workflow
def unprintable_wf(x: int = 1) -> int:
    return unprintable(x=x)


@af.task
def shouting(n: int) -> int:
    raise ValueError("head " + "x" * n + " tail")


@af.workflow
def shouting_wf(n: int = 1) -> int:
    return shouting(n=n)


def _run(tmp_path: Path, wf: object, **inputs: int) -> tuple[MemoryMetaStore, str]:
    meta = MemoryMetaStore()
    blobs = open_blob_store(str(tmp_path / "blobs"))
    types = default_type_engine()
    engine = Engine(
        meta, blobs, InlineExecutor(blobs, WorkerRuntime(codecs=types)), blob_url=str(tmp_path)
    )
    ctx = ValueContext(blobs=blobs)
    values = {k: types.to_value(v, int, ctx) for k, v in inputs.items()}
    record = engine.drive(engine.launch(spec_of(wf), values, execution_id="e1").id)
    return meta, record.phase


def test_an_exception_whose_str_raises_is_the_users_error_and_uses_its_retries(
    tmp_path: Path,
) -> None:
    # Before: str(exc) raised inside the runtime's error boundary. Inline, the engine crashed
    # (the execution left running, an Airfoil traceback on the terminal); in a worker, the
    # user's failure became a system error ``RuntimeError: str exploded`` retried with the
    # platform's system_retries (4 attempts) instead of the task's retries=1.
    meta, phase = _run(tmp_path, unprintable_wf, x=1)
    assert phase == "failed"
    attempts = meta.get_attempts("e1", "n0")
    assert len(attempts) == 2  # retries=1: one retry, no system retries
    error = attempts[-1].error
    assert error is not None
    assert (error.kind, error.type) == ("user", f"{__name__}.UnprintableError")
    assert error.message == "<str() of the exception failed: RuntimeError: str exploded>"
    assert "raise UnprintableError(x)" in error.traceback
    stored = meta.get_execution("e1").error
    assert stored is not None and stored.type == f"{__name__}.UnprintableError"


def test_a_message_of_megabytes_is_recorded_clipped_with_its_head_and_tail(
    tmp_path: Path,
) -> None:
    # Before: a 50 MB message was stored whole in the execution, its head, the node and the
    # attempt records, message and traceback each (about 500 MB of database per failed run)
    # and printed whole by `airfoil run`.
    meta, phase = _run(tmp_path, shouting_wf, n=5_000_000)
    assert phase == "failed"
    for error in (meta.get_execution("e1").error, meta.get_attempts("e1", "n0")[-1].error):
        assert error is not None and error.type == "ValueError"
        assert len(error.message) <= ERROR_MESSAGE_MAX
        assert error.message.startswith("head xxx") and error.message.endswith("xxx tail")
        assert "characters cut" in error.message
        assert len(error.traceback) <= ERROR_TRACEBACK_MAX
        assert "raise ValueError" in error.traceback  # the frames are kept
        assert error.traceback.rstrip().endswith("xxx tail")


def test_a_long_message_under_the_limit_is_kept_whole(tmp_path: Path) -> None:
    meta, _ = _run(tmp_path, shouting_wf, n=2_000)
    error = meta.get_attempts("e1", "n0")[-1].error
    assert error is not None
    assert error.message == "head " + "x" * 2_000 + " tail"
