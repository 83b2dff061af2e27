"""A training gang preempted by the scheduler (interruptible, borrowing another project's
GPUs) stops whole and, when it runs again, resumes from its latest checkpoint: the preemption
uses no retry, no step runs in two attempts at once, and at most one checkpoint interval is
redone. Fake GPUs on the process executor (the queue numbers them; nothing uses them)."""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airfoil.engine.runner import Engine, EngineSettings
from airfoil.executors.process import ProcessExecutor
from airfoil.local import LocalRuntime
from airfoil.runtime.worker import worker_runtime
from airfoil.settings import AirfoilSettings
from airfoil.store._scheduling import ProjectQuota
from airfoil.types import ValueContext

pytestmark = [pytest.mark.integration]

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import _gang_flow  # noqa: E402

STEPS = 25


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[LocalRuntime]:
    rt = LocalRuntime(AirfoilSettings(home=str(tmp_path / "home"), executor="process", gpus=4))
    yield rt
    rt.close()


def _engine(rt: LocalRuntime, project: str) -> Engine:
    return Engine(
        rt.meta,
        rt.blobs,
        ProcessExecutor(rt.blob_url, max_workers=4, runtime=worker_runtime),
        blob_url=rt.blob_url,
        settings=EngineSettings(project=project),
        resources=rt.resources,
    )


def _launch(rt: LocalRuntime, engine: Engine, wf: object, **raw: object) -> str:
    ctx = ValueContext(blobs=rt.blobs)
    kinds = {str: str, int: int, list: list[int]}
    inputs = {k: rt.types.to_value(v, kinds[type(v)], ctx) for k, v in raw.items()}
    return engine.launch(wf.spec, inputs, code_root=str(HERE)).id  # type: ignore[attr-defined]


@pytest.mark.timeout(120)
def test_a_preempted_gang_resumes_from_its_checkpoint(
    runtime: LocalRuntime, tmp_path: Path
) -> None:
    # "hog" borrows all 4 GPUs with its interruptible gang (2 workers x 2 GPUs) above its
    # quota of 1; "owner" is guaranteed 2, so its work preempts the gang (whole).
    runtime.meta.put_quota(ProjectQuota("owner", gpu=2))
    runtime.meta.put_quota(ProjectQuota("hog", gpu=1))
    marks = tmp_path / "marks"
    marks.mkdir()
    hog = _engine(runtime, "hog")
    hog_id = _launch(runtime, hog, _gang_flow.counting_wf, steps=STEPS, marks=str(marks))
    hog_thread = threading.Thread(target=lambda: hog.drive(hog_id))
    hog_thread.start()
    counted = marks / "counted.log"
    deadline = time.monotonic() + 60
    while not (counted.exists() and len(counted.read_text().splitlines()) >= 5):
        assert time.monotonic() < deadline, "the gang never ran 5 steps"
        time.sleep(0.05)
    owner = _engine(runtime, "owner")
    try:
        owner_id = _launch(runtime, owner, _gang_flow.owner_flood, xs=[1, 2])
        owned = owner.drive(owner_id)
        assert owned.phase == "succeeded", owned.error
        hog_thread.join(90)
        assert not hog_thread.is_alive()
    finally:
        hog.executor.close()
        owner.executor.close()
    record = runtime.meta.get_execution(hog_id)
    assert record.phase == "succeeded", record.error
    attempts = runtime.meta.get_attempts(hog_id)
    preempted = [a for a in attempts if a.error is not None and a.error.type == "Preempted"]
    assert preempted and all(a.error.kind == "system" for a in preempted), attempts
    rows = [line.split() for line in counted.read_text().splitlines()]
    by_attempt: dict[str, list[tuple[int, float]]] = {}
    for attempt, step, at in rows:
        by_attempt.setdefault(attempt, []).append((int(step), float(at)))
    assert len(by_attempt) >= 2, rows
    runs = list(by_attempt.values())
    for before, after in itertools.pairwise(runs):
        # The next attempt starts where the last checkpoint left off (each step saves one)...
        assert after[0][0] in (before[-1][0], before[-1][0] + 1), rows
        # ...and only after the preempted gang stopped.
        assert after[0][1] > before[-1][1], rows
    assert runs[-1][-1][0] == STEPS - 1
    assert len(rows) - STEPS <= len(runs) - 1  # at most one step redone per preemption
