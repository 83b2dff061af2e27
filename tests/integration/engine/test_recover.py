"""``recover`` writes the new execution and the nodes it reuses in one transaction (issue 9,
defect 3): a crash between two writes left a new execution whose succeeded nodes were
pending, so its drive ran them again."""

from __future__ import annotations

from pathlib import Path

import pytest

import airfoil as af
from airfoil.core.errors import StoreError
from airfoil.core.records import StoreBatch
from airfoil.engine.local import spec_of
from airfoil.engine.runner import Engine
from airfoil.executors.inline import InlineExecutor
from airfoil.runtime.worker import WorkerRuntime
from airfoil.store.blob import open_blob_store
from airfoil.store.memory import MemoryMetaStore
from airfoil.types import ValueContext, default_type_engine

pytestmark = pytest.mark.integration

CALLS: list[str] = []
FAIL = {"on": True}


@af.task
def first(x: int) -> int:
    CALLS.append("first")
    return x + 1


@af.task
def second(x: int) -> int:
    CALLS.append("second")
    if FAIL["on"]:
        raise ValueError("not yet")
    return x * 10


@af.workflow
def two(x: int = 1) -> int:
    return second(x=first(x=x))


class CrashOnWrite(MemoryMetaStore):
    """A store whose process 'dies' at its n-th write once armed (nothing of it written)."""

    def __init__(self) -> None:
        super().__init__()
        self.crash_at = 0

    def write(self, batch: StoreBatch) -> None:
        if self.crash_at:
            self.crash_at -= 1
            if self.crash_at == 0:
                raise StoreError("the process died here")
        super().write(batch)


def test_recover_is_one_transaction(tmp_path: Path) -> None:
    meta = CrashOnWrite()
    blobs = open_blob_store(str(tmp_path / "blobs"))
    types = default_type_engine()
    engine = Engine(
        meta,
        blobs,
        InlineExecutor(blobs, WorkerRuntime(codecs=types)),
        blob_url=str(tmp_path / "blobs"),
        types=types,
    )
    ctx = ValueContext(blobs=blobs)
    inputs = {"x": types.to_value(1, int, ctx)}
    failed = engine.drive(engine.launch(spec_of(two), inputs, execution_id="f1").id)
    assert failed.phase == "failed" and CALLS == ["first", "second"]

    meta.crash_at = 2  # dies at recover's second write, if it makes one
    try:
        engine.recover("f1", new_id="r1")
    except StoreError:
        pass
    # Whatever got written, the new execution never holds a pending copy of a node the
    # failed one had finished: either nothing of it exists, or its reused node succeeded.
    try:  # r1 is the new execution's name in its project (its id is generated)
        nodes = {
            n.node_id: n.phase for n in meta.get_nodes(meta.resolve_execution("default", "r1"))
        }
    except Exception:
        nodes = {}
    if nodes:
        assert nodes["n0"] == "succeeded"
    meta.crash_at = 0
    FAIL["on"] = False
    CALLS.clear()
    if not nodes:
        engine.recover("f1", new_id="r1")
    done = engine.drive(meta.resolve_execution("default", "r1"))
    assert done.phase == "succeeded"
    assert CALLS == ["second"]  # the node that had succeeded did not run again
