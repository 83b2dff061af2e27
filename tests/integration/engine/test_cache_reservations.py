"""``cache_serialize`` reservations are renewed with their drive's lease: a task that runs
longer than the reservation's time to live keeps it (its twin waits and hits), and a killed
holder's reservation lapses as its lease does."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import airfoil as af
from airfoil.engine.local import spec_of
from airfoil.engine.runner import Engine, EngineSettings
from airfoil.executors.inline import InlineExecutor
from airfoil.runtime.worker import WorkerRuntime
from airfoil.store.blob import open_blob_store
from airfoil.store.memory import MemoryMetaStore
from airfoil.types import ValueContext, default_type_engine

pytestmark = pytest.mark.integration

RUNS: list[float] = []


@af.task(cache=True, cache_serialize=True)
def slow_square(x: int) -> int:
    RUNS.append(time.time())
    time.sleep(2.5)
    return x * x


@af.workflow
def squared(x: int = 3) -> int:
    return slow_square(x=x)


def test_a_task_longer_than_its_reservation_keeps_it(tmp_path: Path) -> None:
    # Before, a reservation was taken once for cache_reservation_ttl_s and never renewed:
    # once it lapsed under a running holder, the waiting twin reserved the key and ran the
    # task again (2 runs here, with a 1 s reservation and a 2.5 s task).
    RUNS.clear()
    meta = MemoryMetaStore()
    blobs = open_blob_store(str(tmp_path / "blobs"))
    types = default_type_engine()
    settings = EngineSettings(lease_ttl_s=0.3, cache_reservation_ttl_s=1.0)

    def engine() -> Engine:
        executor = InlineExecutor(blobs, WorkerRuntime(codecs=types))
        return Engine(
            meta, blobs, executor, blob_url=str(tmp_path / "blobs"), types=types, settings=settings
        )

    inputs = {"x": types.to_value(3, int, ValueContext(blobs=blobs))}
    first, second = engine(), engine()
    a = first.launch(spec_of(squared), inputs, execution_id="a")
    b = second.launch(spec_of(squared), inputs, execution_id="b")
    ended: dict[str, str] = {}

    def drive(e: Engine, eid: str) -> None:
        ended[eid] = e.drive(eid).phase

    ta = threading.Thread(target=drive, args=(first, a.id))
    ta.start()
    deadline = time.time() + 10
    while not RUNS and time.time() < deadline:  # the holder has reserved and started
        time.sleep(0.01)
    tb = threading.Thread(target=drive, args=(second, b.id))
    tb.start()
    ta.join(30)
    tb.join(30)
    assert ended == {"a": "succeeded", "b": "succeeded"}
    assert len(RUNS) == 1, "the twin waited for the holder's result instead of running again"
    statuses = {eid: meta.get_node(eid, "n0").cache_status for eid in ("a", "b")}
    assert statuses == {"a": "put", "b": "hit"}
