"""The engine admits resource-asking attempts through the scheduling policy, shared by every
execution driven in one process: fair shares of (pretend) GPUs between projects, hard
quotas, preemption retried without the user's budget, GPU indices handed to attempts, the
queue's reasons in the store, and a launch-time error for what could never fit."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airfoil.cli._load import load_entity
from airfoil.core.errors import UnschedulableTaskError
from airfoil.core.records import AttemptRecord
from airfoil.engine.runner import Engine, EngineSettings
from airfoil.executors.process import ProcessExecutor
from airfoil.local import LocalRuntime, convert_inputs, spec_of
from airfoil.runtime.worker import worker_runtime
from airfoil.sdk._versioning import project_root
from airfoil.settings import AirfoilSettings
from airfoil.store._scheduling import ProjectQuota

pytestmark = pytest.mark.integration

FLOW = textwrap.dedent(
    """
    import os
    import time

    import airfoil as af


    @af.task(requests=af.Resources(gpu=1))
    def gpu_step(x: int) -> str:
        time.sleep(0.25)
        return os.environ.get("CUDA_VISIBLE_DEVICES", "")


    @af.task(requests=af.Resources(gpu=1), interruptible=True, retries=0)
    def long_step(x: int) -> str:
        time.sleep(3.0 if x == 0 else 0.2)
        return os.environ.get("CUDA_VISIBLE_DEVICES", "")


    @af.task(requests=af.Resources(gpu=2))
    def pair_step(x: int) -> str:
        time.sleep(0.3)
        return os.environ.get("CUDA_VISIBLE_DEVICES", "")


    @af.task(requests=af.Resources(gpu=64))
    def huge(x: int) -> int:
        return x


    @af.workflow
    def flood(xs: list[int]) -> list[str]:
        return af.map_task(gpu_step)(x=xs)


    @af.workflow
    def long_flood(xs: list[int]) -> list[str]:
        return af.map_task(long_step)(x=xs)


    @af.workflow
    def pairs(xs: list[int]) -> list[str]:
        return af.map_task(pair_step)(x=xs)


    @af.workflow
    def too_big(x: int = 1) -> int:
        return huge(x=x)
    """
)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[LocalRuntime]:
    settings = AirfoilSettings(home=str(tmp_path / "home"), executor="process", gpus=4)
    rt = LocalRuntime(settings)
    yield rt
    rt.close()


@pytest.fixture
def flow(tmp_path: Path) -> str:
    path = tmp_path / "fairflow.py"
    path.write_text(FLOW)
    return str(path)


def _engine(rt: LocalRuntime, project: str) -> Engine:
    return Engine(
        rt.meta,
        rt.blobs,
        ProcessExecutor(rt.blob_url, max_workers=4, runtime=worker_runtime),
        blob_url=rt.blob_url,
        settings=EngineSettings(project=project),
        resources=rt.resources,
    )


def _drive_all(
    rt: LocalRuntime, flow: str, runs: list[tuple[str, str, dict[str, Any]]]
) -> list[str]:
    """Launch one execution per ``(project, workflow, inputs)`` and drive them concurrently,
    each on its own engine and process executor, all sharing the runtime's resource queue."""
    engines, ids = [], []
    for project, name, inputs in runs:
        entity = load_entity(flow, name)
        engine = _engine(rt, project)
        record = engine.launch(
            spec_of(entity),
            convert_inputs(entity, inputs, rt),
            code_root=project_root(entity.module),
        )
        engines.append(engine)
        ids.append(record.id)
    errors: list[BaseException] = []

    def drive(engine: Engine, exec_id: str) -> None:
        try:
            engine.drive(exec_id)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            engine.executor.close()

    threads = [
        threading.Thread(target=drive, args=(e, i)) for e, i in zip(engines, ids, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    for exec_id in ids:
        assert rt.meta.get_execution(exec_id).phase == "succeeded", rt.meta.get_events(exec_id)
    return ids


def _item_attempts(rt: LocalRuntime, exec_id: str) -> list[AttemptRecord]:
    return [
        a
        for a in rt.meta.get_attempts(exec_id)
        if a.node_id.endswith("]") and a.ended_at is not None
    ]


def _gpu_seconds(attempts: list[AttemptRecord], lo: float, hi: float, gpus: int = 1) -> float:
    return sum(
        gpus * max(0.0, min(a.ended_at or a.started_at, hi) - max(a.started_at, lo))
        for a in attempts
    )


def _max_concurrent(attempts: list[AttemptRecord]) -> int:
    edges = sorted(
        [(a.started_at, 1) for a in attempts] + [(a.ended_at or a.started_at, -1) for a in attempts]
    )
    now = best = 0
    for _, step in edges:
        now += step
        best = max(best, now)
    return best


@pytest.mark.parametrize(
    ("quotas", "expected"),
    [
        # equal quotas of 2 GPUs each (borrowing): half each
        ((ProjectQuota("alpha", gpu=2), ProjectQuota("beta", gpu=2)), 0.5),
        # no guarantee, fair-share weights 3:1: three quarters to alpha
        ((ProjectQuota("alpha", weight=3.0), ProjectQuota("beta", weight=1.0)), 0.75),
    ],
    ids=["equal-quotas", "weights-3-to-1"],
)
def test_two_projects_flooding_four_gpus_split_gpu_time_by_fair_share(
    runtime: LocalRuntime, flow: str, quotas: tuple[ProjectQuota, ...], expected: float
) -> None:
    for quota in quotas:
        runtime.meta.put_quota(quota)
    xs = list(range(24))
    alpha, beta = _drive_all(
        runtime, flow, [("alpha", "flood", {"xs": xs}), ("beta", "flood", {"xs": xs})]
    )
    a_att, b_att = _item_attempts(runtime, alpha), _item_attempts(runtime, beta)
    assert len(a_att) == len(b_att) == 24
    # The window in which both projects had work waiting: from the later first start to the
    # earlier last start (after that one project's queue was empty).
    lo = max(min(a.started_at for a in a_att), min(b.started_at for b in b_att))
    hi = min(max(a.started_at for a in a_att), max(b.started_at for b in b_att))
    assert hi - lo > 1.0
    a_time, b_time = _gpu_seconds(a_att, lo, hi), _gpu_seconds(b_att, lo, hi)
    share = a_time / (a_time + b_time)
    assert abs(share - expected) <= 0.1 * expected, (share, a_time, b_time)
    # Never more than the 4 pretend GPUs at once, each attempt on its own GPU index.
    assert _max_concurrent(a_att + b_att) <= 4
    outputs = runtime.meta.get_execution(alpha).outputs
    assert outputs is not None


def test_a_hard_quota_is_never_exceeded_and_the_rest_borrows(
    runtime: LocalRuntime, flow: str
) -> None:
    runtime.meta.put_quota(ProjectQuota("capped", gpu=1, borrow=False))
    xs = list(range(8))
    capped, free = _drive_all(
        runtime, flow, [("capped", "flood", {"xs": xs}), ("free", "flood", {"xs": xs})]
    )
    assert _max_concurrent(_item_attempts(runtime, capped)) == 1
    assert _max_concurrent(_item_attempts(runtime, free)) >= 2


def test_attempts_see_the_gpu_indices_they_were_placed_on(runtime: LocalRuntime, flow: str) -> None:
    (exec_id,) = _drive_all(runtime, flow, [("solo", "pairs", {"xs": list(range(6))})])
    record = runtime.meta.get_execution(exec_id)
    entity = load_entity(flow, "pairs")
    from airfoil.local import decode_outputs

    seen = decode_outputs(entity, record, runtime)
    assert len(seen) == 6
    for devices in seen:
        ids = devices.split(",")
        assert len(ids) == 2 and len(set(ids)) == 2 and set(ids) <= {"0", "1", "2", "3"}
    attempts = _item_attempts(runtime, exec_id)
    assert _max_concurrent(attempts) <= 2  # two 2-GPU attempts fill the 4 GPUs


def test_preempted_attempts_are_retried_without_using_the_retry_budget(
    runtime: LocalRuntime, flow: str
) -> None:
    # "hog" borrows all 4 GPUs with interruptible work (retries=0); "owner" is guaranteed 2.
    runtime.meta.put_quota(ProjectQuota("owner", gpu=2))
    runtime.meta.put_quota(ProjectQuota("hog", gpu=1))
    entity = load_entity(flow, "long_flood")
    hog = _engine(runtime, "hog")
    hog_id = hog.launch(
        spec_of(entity),
        convert_inputs(entity, {"xs": [0, 0, 0, 0]}, runtime),
        code_root=project_root(entity.module),
    ).id
    done = threading.Event()

    def drive_hog() -> None:
        try:
            hog.drive(hog_id)
        finally:
            hog.executor.close()
            done.set()

    t = threading.Thread(target=drive_hog)
    t.start()
    import time

    deadline = time.monotonic() + 30
    while runtime.resources.snapshot().items.__len__() < 4 or any(
        i.state != "running" for i in runtime.resources.snapshot().items
    ):
        assert time.monotonic() < deadline, runtime.resources.snapshot()
        time.sleep(0.05)
    (owner_id,) = _drive_all(runtime, flow, [("owner", "flood", {"xs": [1, 2]})])
    t.join(60)
    assert done.is_set()
    assert runtime.meta.get_execution(hog_id).phase == "succeeded"
    attempts = runtime.meta.get_attempts(hog_id)
    preempted = [a for a in attempts if a.error is not None and a.error.type == "Preempted"]
    assert preempted, attempts
    assert all(a.error is not None and a.error.kind == "system" for a in preempted)
    assert runtime.meta.get_execution(owner_id).phase == "succeeded"


def test_the_queue_snapshot_says_why_work_waits(runtime: LocalRuntime, flow: str) -> None:
    runtime.meta.put_quota(ProjectQuota("slow", gpu=1, borrow=False))
    entity = load_entity(flow, "flood")
    engine = _engine(runtime, "slow")
    exec_id = engine.launch(
        spec_of(entity),
        convert_inputs(entity, {"xs": list(range(4))}, runtime),
        code_root=project_root(entity.module),
    ).id
    seen: list[str] = []
    import time

    def watch() -> None:
        end = time.monotonic() + 20
        while time.monotonic() < end and not seen:
            for snap in runtime.meta.list_queue_snapshots():
                seen.extend(i.reason for i in snap.items if i.state == "waiting" and i.reason)
            time.sleep(0.05)

    w = threading.Thread(target=watch)
    w.start()
    try:
        engine.drive(exec_id)
    finally:
        engine.executor.close()
    w.join()
    assert any("quota" in r and "slow" in r for r in seen), seen
    # When the drive ends, nothing of it is left in the queue.
    assert all(not s.items for s in runtime.meta.list_queue_snapshots())


def test_a_task_asking_more_than_the_machine_fails_at_launch(
    runtime: LocalRuntime, flow: str
) -> None:
    entity = load_entity(flow, "too_big")
    engine = _engine(runtime, "default")
    try:
        with pytest.raises(UnschedulableTaskError) as info:
            engine.launch(spec_of(entity), convert_inputs(entity, {}, runtime))
    finally:
        engine.executor.close()
    err = info.value
    assert err.task.endswith("huge") and "gpu=64" in str(err) and "gpu=4" in str(err)
    assert "could never start" in str(err)


def test_a_task_over_its_projects_hard_quota_fails_at_launch(
    runtime: LocalRuntime, flow: str
) -> None:
    runtime.meta.put_quota(ProjectQuota("tiny", gpu=1, borrow=False))
    entity = load_entity(flow, "pairs")
    engine = _engine(runtime, "tiny")
    try:
        with pytest.raises(UnschedulableTaskError, match="quota"):
            engine.launch(spec_of(entity), convert_inputs(entity, {"xs": [1]}, runtime))
    finally:
        engine.executor.close()
