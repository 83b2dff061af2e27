"""No workflow may crash the engine: an error of the engine's own (a bug, a misbehaving
executor) fails the execution with a clear message and a bug-report hint, and never leaves
it running (issue 12's blocker, as a class)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from _two_incs import wf

from airfoil.engine.local import spec_of
from airfoil.engine.runner import Engine
from airfoil.executors.base import AttemptResult
from airfoil.executors.inline import InlineExecutor
from airfoil.runtime.worker import WorkerRuntime
from airfoil.store.blob import open_blob_store
from airfoil.store.memory import MemoryMetaStore
from airfoil.types import ValueContext, default_type_engine

pytestmark = pytest.mark.integration


class ConfusedExecutor(InlineExecutor):
    """Reports its attempts under a node id the execution does not have."""

    def poll(self, timeout: float | None) -> list[AttemptResult]:
        return [msgspec.structs.replace(r, node_id="no-such-node") for r in super().poll(0)]


def test_an_engine_error_fails_the_execution_with_a_bug_report_hint(tmp_path: Path) -> None:
    meta = MemoryMetaStore()
    blobs = open_blob_store(str(tmp_path / "blobs"))
    types = default_type_engine()
    engine = Engine(
        meta,
        blobs,
        ConfusedExecutor(blobs, WorkerRuntime(codecs=types)),
        blob_url=str(tmp_path / "blobs"),
    )
    inputs = {"x": types.to_value(1, int, ValueContext(blobs=blobs))}
    record = engine.drive(engine.launch(spec_of(wf), inputs, execution_id="e1").id)
    assert record.phase == "failed"
    stored = meta.get_execution("e1")
    assert stored.phase == "failed"
    assert stored.error is not None and stored.error.type == "EngineError"
    assert "internal error in the engine: KeyError" in stored.error.message
    assert "bug in Airfoil" in stored.error.message
    assert "airfoil executions show e1" in stored.error.message
    assert "Traceback" in stored.error.traceback
    assert meta.get_lease("e1") is None  # released: nothing holds the execution
    # Nothing is left running, and a resume finds nothing to do.
    assert {n.phase for n in meta.get_nodes("e1")} <= {"aborted", "failed", "succeeded"}
    assert engine.drive("e1").phase == "failed"
