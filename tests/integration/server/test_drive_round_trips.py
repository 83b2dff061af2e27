"""What a server's drive of a claimed execution asks its store for, besides its batches:
the claim takes the lease and the drive does not take it again (unless it starts a third of
the TTL after the claim); a drive shorter than ``control_every_s`` reads no control
message, and a terminate request is still honoured at the first read, a period in."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _srv import memory_runtime

from airfoil.client._package import build_package
from airfoil.core.clock import SystemClock
from airfoil.engine.launcher import Launcher
from airfoil.executors.inline import InlineExecutor
from airfoil.local import spec_of
from airfoil.runtime._packages import package_key, package_ref
from airfoil.runtime.worker import WorkerRuntime
from airfoil.server._driver import Driver
from airfoil.store._control import ControlMessage
from airfoil.store.blob import open_blob_store
from airfoil.store.memory import MemoryMetaStore
from airfoil.store.stores import NoSecrets
from airfoil.types import ValueContext, default_type_engine

pytestmark = pytest.mark.integration


class _Counted(MemoryMetaStore):
    """A memory store that records the lease takes (other than its claims') and control
    reads asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.takes: list[str] = []
        self.control_reads: list[str] = []
        self._claiming = threading.local()

    def claim_execution(self, *args: Any, **kwargs: Any) -> str | None:
        self._claiming.on = True
        try:
            return super().claim_execution(*args, **kwargs)
        finally:
            self._claiming.on = False

    def acquire_lease(self, execution_id: str, owner: str, now: float, ttl_s: float) -> bool:
        if not getattr(self._claiming, "on", False):  # the memory store's claim takes it so
            self.takes.append(execution_id)
        return super().acquire_lease(execution_id, owner, now, ttl_s)

    def control_messages(self, execution_id: str, kind: str | None = None) -> Any:
        self.control_reads.append(execution_id)
        return super().control_messages(execution_id, kind)


@pytest.fixture
def driven(
    tmp_path: Path, flow: Any, flow_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[_Counted, Callable[..., str], Any]]:
    """A counting store, a launch into it (of the flow's package, in the blob store as a
    server's registration puts it) and a driver factory over it (inline executor)."""
    monkeypatch.setenv("AIRFOIL_PACKAGE_CACHE", str(tmp_path / "packages"))
    meta = _Counted()
    runtime, registry, blob_url = memory_runtime(tmp_path, meta)
    stores = runtime.stores
    launcher = Launcher(
        meta,
        clock=SystemClock(),
        capacity=lambda executor: None,
        secrets=NoSecrets(),
        executor="process",
    )
    types, ctx = default_type_engine(), ValueContext(blobs=stores.blobs)
    archive, sha = build_package(str(flow_dir))
    stores.blobs.put_bytes(package_key(sha), archive)
    ref = package_ref(sha, blob_url)
    made: list[Driver] = []

    def launch(wf: Any = flow.wf, **inputs: Any) -> str:
        values = {k: types.to_value(v, type(v), ctx) for k, v in (inputs or {"x": 1}).items()}
        return launcher.launch(spec_of(wf), values, code_root=ref).execution.id

    def driver(**settings: Any) -> Driver:
        d = Driver(
            runtime,
            slots=1,
            lease_ttl_s=3.0,
            make_executor=lambda: InlineExecutor(open_blob_store(blob_url), WorkerRuntime()),
        )
        for name, value in settings.items():
            setattr(d, name, value)
        made.append(d)
        d.start()
        return d

    yield meta, launch, driver
    for d in made:
        d.stop()
    registry.close()


def _ended(meta: MemoryMetaStore, execution_id: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while (phase := meta.get_execution(execution_id).phase) in ("queued", "running"):
        assert time.monotonic() < deadline, f"{execution_id} still {phase}"
        time.sleep(0.02)
    return phase


def test_a_claimed_drive_takes_no_second_lease_and_a_short_one_reads_no_control(
    driven: tuple[_Counted, Callable[..., str], Any],
) -> None:
    # main: every drive took the lease its claim had just taken (a transaction, three
    # round trips on PostgreSQL) and read its control inbox at its first poll
    meta, launch, driver = driven
    driver(control_every_s=30.0)
    ids = [launch() for _ in range(3)]
    assert [_ended(meta, eid) for eid in ids] == ["succeeded"] * 3
    assert meta.takes == []  # the claims took them
    assert meta.control_reads == []
    deadline = time.monotonic() + 10  # each drive releases its lease once it ends
    while any(meta.get_lease(eid) is not None for eid in ids):
        assert time.monotonic() < deadline, "a lease was kept"
        time.sleep(0.02)


def test_a_terminate_request_is_read_a_period_into_the_drive(
    driven: tuple[_Counted, Callable[..., str], Any], flow: Any
) -> None:
    meta, launch, driver = driven
    eid = launch(flow.sleepy, seconds=3.0)
    # sent while another driver held it (what the API does then), before this one claims it
    meta.send_control(ControlMessage(eid, "terminate", time.time(), reason="stop it"))
    driver(control_every_s=0.2)
    assert _ended(meta, eid) == "aborted"  # not after its 3 s task
    assert "stop it" in [e.cause for e in meta.get_events(eid)]
    assert meta.control_reads == [eid]


def test_a_drive_that_starts_late_after_its_claim_takes_its_lease_again(
    driven: tuple[_Counted, Callable[..., str], Any],
) -> None:
    meta, launch, driver = driven
    eid = launch()
    d = driver(control_every_s=30.0)
    d.stop()  # its slot only claims below
    engine = d.runtime.engine(
        InlineExecutor(open_blob_store(d.runtime.stores.blob_url), WorkerRuntime())
    )
    claimed_at = time.time() - 60.0
    assert meta.claim_execution(engine.owner, claimed_at, 120.0) == eid
    engine.drive(eid, claimed_at=claimed_at)  # 60 s after its claim: past a third of 30 s
    assert meta.takes == [eid]
    assert meta.get_lease(eid) is None
