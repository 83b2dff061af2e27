"""The driver's lease holds while a task runs longer than it (issue 9, defect 1): a heartbeat
renews it independently of the loop, and every batch is fenced by it inside its transaction."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from airfoil.core.errors import ConflictError
from airfoil.core.phases import ExecutionPhase
from airfoil.core.records import (
    EventRecord,
    ExecutionRecord,
    Interface,
    StoreBatch,
    WorkflowSpec,
)
from airfoil.store._open import open_meta_store
from airfoil.store.base import MetaStore
from airfoil.store.memory import MemoryMetaStore

pytestmark = pytest.mark.integration

WORKFLOW = textwrap.dedent(
    """
    import os, time
    import airfoil as af

    def mark(what):
        with open(os.environ["CALLS_LOG"], "a") as fh:
            fh.write(what + "\\n")

    @af.task
    def slow(x: int) -> int:
        mark("start")
        # runs until the test has tried its resume (at most 90 s): however slow a loaded
        # machine starts that CLI process, the task is still running when it asks
        deadline = time.time() + 90
        while not os.path.exists(os.environ["GO_FILE"]) and time.time() < deadline:
            time.sleep(0.05)
        mark("end")
        return x + 1

    @af.workflow
    def wf(x: int = 1) -> int:
        return slow(x=x)
    """
)

DRIVER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    import leasewf
    from airfoil.engine.local import convert_inputs, spec_of
    from airfoil.local import get_runtime
    from airfoil.engine.runner import Engine, EngineSettings
    from airfoil.sdk._versioning import project_root

    rt = get_runtime()
    engine = Engine(
        rt.meta, rt.blobs, rt.executor(sys.argv[1]), blob_url=rt.blob_url,
        settings=EngineSettings(lease_ttl_s=2.0), resources=rt.resources,
    )
    wf = leasewf.wf
    rec = engine.launch(
        spec_of(wf), convert_inputs(wf, {}, rt), execution_id="lease1",
        code_root=project_root(wf.module),
    )
    print(engine.drive(rec.id).phase, flush=True)
    rt.close()
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["inline", "process"])
@pytest.mark.timeout(120)
def test_resume_during_a_task_longer_than_the_lease_is_refused(
    tmp_path: Path, executor: str
) -> None:
    (tmp_path / "leasewf.py").write_text(WORKFLOW)
    (tmp_path / "drive.py").write_text(DRIVER)
    log = tmp_path / "calls.log"
    go = tmp_path / "go"
    env = dict(os.environ, CALLS_LOG=str(log), GO_FILE=str(go), AIRFOIL_HOME=str(tmp_path / "home"))
    driver = subprocess.Popen(
        [sys.executable, str(tmp_path / "drive.py"), executor, str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 60
        while not (log.exists() and "start" in log.read_text()):
            assert time.time() < deadline and driver.poll() is None, driver.stderr
            time.sleep(0.05)
        time.sleep(5)  # well past the 2 s lease: only the heartbeat keeps it
        resumed = subprocess.run(
            [sys.executable, "-m", "airfoil.cli", "executions", "resume", "lease1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "end" not in log.read_text()  # the task was still running when resume asked
        go.touch()
        out, err = driver.communicate(timeout=60)
    finally:
        go.touch()
        if driver.poll() is None:
            driver.kill()
    assert resumed.returncode != 0, resumed.stdout
    assert "being driven by another engine" in resumed.stderr
    assert driver.returncode == 0, err
    assert out.strip() == "succeeded"
    assert log.read_text().splitlines() == ["start", "end"]  # the node ran once


def _execution(eid: str) -> ExecutionRecord:
    spec = WorkflowSpec(name="wf", version="v1", interface=Interface(), nodes=(), outputs={})
    return ExecutionRecord(
        id=eid, workflow="wf", version="v1", phase="running", spec=spec, inputs={}, created_at=0.0
    )


def _event(eid: str, seq: int) -> EventRecord:
    return EventRecord(
        execution_id=eid, seq=seq, at=1.0, kind="execution", to_phase="running", cause="t"
    )


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_a_batch_fenced_by_a_lost_lease_writes_nothing(tmp_path: Path, backend: str) -> None:
    meta: MetaStore = (
        MemoryMetaStore()
        if backend == "memory"
        else open_meta_store(f"sqlite:///{tmp_path / 'a.db'}", str(tmp_path))
    )
    meta.write(StoreBatch(execution=_execution("e1"), events=[_event("e1", 1)]))
    assert meta.acquire_lease("e1", "old", 0.0, 1.0)
    # The old driver stalls past its lease; another engine takes the execution over.
    assert meta.acquire_lease("e1", "new", 5.0, 1.0)
    stale = StoreBatch(events=[_event("e1", 2)], lease=("e1", "old"))
    with pytest.raises(ConflictError, match="lost the lease"):
        meta.write(stale)
    assert [e.seq for e in meta.get_events("e1")] == [1]
    meta.write(StoreBatch(events=[_event("e1", 2)], lease=("e1", "new")))
    assert [e.seq for e in meta.get_events("e1")] == [1, 2]
    assert meta.get_execution("e1").phase == ExecutionPhase.RUNNING.value
    meta.close()
