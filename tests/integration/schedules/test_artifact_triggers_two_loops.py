"""Launch plans triggered by new artifact versions: two scheduler loops on one database launch
the plan exactly once per matching version (processes sharing a SQLite file, threads sharing a
PostgreSQL schema), with the version number as the workflow's input. Versions older than the
activation never fire, nor do versions whose partitions do not match; a later version fires
on the next pass."""

from __future__ import annotations

import multiprocessing
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airfoil.cli._render import outputs_json
from airfoil.engine.artifact_triggers import activate_trigger, triggered_execution_id
from airfoil.engine.scheduler_loop import SchedulerLoop, schedule_store
from airfoil.local import LocalRuntime
from airfoil.settings import AirfoilSettings
from airfoil.store.artifacts import ArtifactDraft, open_artifact_store

pytestmark = pytest.mark.integration

FLOWS = """
import airfoil as af
from airfoil.sdk._launch_plan import LaunchPlan


@af.task
def retrain(version: int, region: str) -> str:
    return f"retrained on events:{version} ({region})"


@af.workflow
def retrain_wf(version: int, region: str) -> str:
    return retrain(version=version, region=region)


plan = LaunchPlan.get_or_create(
    retrain_wf,
    "retrain_on_events",
    fixed_inputs={"region": "eu"},
    trigger=af.on_artifact("events", partition={"region": "eu"}, version_input="version"),
)
"""

PASSES = 3


def _settings(url: str, home: Path) -> AirfoilSettings:
    return AirfoilSettings(home=str(home), database_url=url, blob_url=str(home / "blobs"))


def _publish(url: str, home: Path, region: str) -> int:
    store = open_artifact_store(url, str(home))
    try:
        draft = ArtifactDraft(
            project="default",
            name="events",
            kind="data",
            uri=f"file:///data/{region}/{time.time_ns()}",
            content_hash=f"h{time.time_ns()}",
            partitions={"region": region},
        )
        return store.add_version(draft, time.time())[0].version
    finally:
        store.close()


def _activate(url: str, tmp_path: Path) -> None:
    from airfoil.cli._load import load_entity
    from airfoil.sdk._versioning import project_root

    code = tmp_path / "code"
    code.mkdir()
    (code / "trigger_flows.py").write_text(textwrap.dedent(FLOWS))
    plan = load_entity(str(code / "trigger_flows.py"), "plan")
    rt = LocalRuntime(_settings(url, tmp_path))
    artifacts = open_artifact_store(url, str(tmp_path))
    try:
        activate_trigger(
            schedule_store(rt.meta),
            artifacts,
            plan.spec,
            now=time.time(),
            code_root=project_root(plan.module),
        )
    finally:
        artifacts.close()
        rt.close()


def _loop_in_child(url: str, home: str, barrier: Any, out: Any) -> None:
    rt = LocalRuntime(_settings(url, Path(home)))
    artifacts = open_artifact_store(url, home)
    try:
        loop = SchedulerLoop(rt, drive="inline", artifacts=artifacts)
        mine: list[tuple[int, str]] = []
        for _ in range(PASSES):
            barrier.wait(timeout=60)
            mine.extend((f.version, f.execution_id) for f in loop.run_triggers() if f.launched)
        out.put(mine)
    except BaseException as exc:
        out.put(repr(exc))
    finally:
        artifacts.close()
        rt.close()


def _prepare(url: str, tmp_path: Path) -> None:
    assert _publish(url, tmp_path, "eu") == 1  # before activation: never fires
    _activate(url, tmp_path)
    assert [_publish(url, tmp_path, r) for r in ("eu", "us", "eu")] == [2, 3, 4]


def _check(url: str, tmp_path: Path, results: list[Any]) -> None:
    errors = [r for r in results if isinstance(r, str)]
    assert not errors, errors
    fired = sorted(v for r in results for v, _ in r)
    assert fired == [2, 4]  # each matching new version once, across both loops
    rt = LocalRuntime(_settings(url, tmp_path))
    artifacts = open_artifact_store(url, str(tmp_path))
    try:
        for version in (2, 4):
            eid = triggered_execution_id(
                "retrain_on_events", "events", version, project="default", domain="development"
            )
            rec = rt.meta.get_execution(eid)
            assert rec.phase == "succeeded"
            assert rec.labels["artifact"] == f"events:{version}"
            out = outputs_json(rec, rt)
            assert list(out.values()) == [f"retrained on events:{version} (eu)"], out
        assert rt.meta.count_executions() == 2
        # a version published later fires on the next pass, and only it
        assert _publish(url, tmp_path, "eu") == 5
        loop = SchedulerLoop(rt, drive="inline", artifacts=artifacts)
        assert [(f.version, f.launched) for f in loop.run_triggers()] == [(5, True)]
        assert loop.run_triggers() == []
        assert rt.meta.count_executions() == 3
    finally:
        artifacts.close()
        rt.close()


def test_two_processes_on_one_sqlite_file(sqlite_url: str, tmp_path: Path) -> None:
    _prepare(sqlite_url, tmp_path)
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=_loop_in_child, args=(sqlite_url, str(tmp_path), barrier, out))
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    _check(sqlite_url, tmp_path, results)


def test_two_threads_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    _prepare(pg_url, tmp_path)
    barrier = threading.Barrier(2)
    results: list[Any] = []

    class _Out:
        def put(self, item: Any) -> None:
            results.append(item)

    threads = [
        threading.Thread(target=_loop_in_child, args=(pg_url, str(tmp_path), barrier, _Out()))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    _check(pg_url, tmp_path, results)


def test_stores_opened_by_threads_at_once_migrate_in_turn(
    pg_new_schema: Callable[[], str],
) -> None:
    """Alembic's context is process-global: threads opening stores on a database that is
    behind used to see each other's migration context (``KeyError: 'config'``)."""
    url = pg_new_schema()
    barrier = threading.Barrier(4)
    errors: list[str] = []

    def open_one() -> None:
        barrier.wait(timeout=30)
        try:
            open_artifact_store(url, "/nonexistent").close()
        except Exception as exc:
            errors.append(repr(exc))

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
