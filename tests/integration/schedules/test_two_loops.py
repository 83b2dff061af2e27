"""Two scheduler loops on one database fire each instant exactly once: processes sharing a
SQLite file, threads sharing a PostgreSQL schema. The loops never import the user's file:
they launch the stored spec, and the inline executor imports the tasks from the code root
recorded at activation."""

from __future__ import annotations

import multiprocessing
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from airfoil.engine.scheduler_loop import SchedulerLoop, activate_schedule
from airfoil.local import LocalRuntime
from airfoil.settings import AirfoilSettings

pytestmark = pytest.mark.integration

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
STEPS = [START + 1800.0 * i for i in range(1, 13)]  # six hours, every 30 minutes

FLOWS = """
import datetime as dt
import airfoil as af
from airfoil.sdk._launch_plan import FixedRate, LaunchPlan


@af.task
def tag(when: dt.datetime, label: str) -> str:
    return f"{label}@{when.isoformat()}"


@af.workflow
def tagged(when: dt.datetime, label: str) -> str:
    return tag(when=when, label=label)


plan = LaunchPlan.get_or_create(
    tagged,
    "twoloops_hourly",
    fixed_inputs={"label": "x"},
    schedule=FixedRate(dt.timedelta(hours=1), kickoff_time_input_arg="when"),
)
"""


def _settings(url: str, home: Path) -> AirfoilSettings:
    return AirfoilSettings(home=str(home), database_url=url, blob_url=str(home / "blobs"))


def _activate(url: str, tmp_path: Path) -> None:
    from airfoil.cli._load import load_entity
    from airfoil.sdk._versioning import project_root

    code = tmp_path / "code"
    code.mkdir()
    (code / "twoloops_flows.py").write_text(textwrap.dedent(FLOWS))
    plan = load_entity(str(code / "twoloops_flows.py"), "plan")
    rt = LocalRuntime(_settings(url, tmp_path))
    try:
        activate_schedule(rt.meta, plan.spec, now=START, code_root=project_root(plan.module))
    finally:
        rt.close()


def _loop_in_child(url: str, home: str, barrier: Any, out: Any) -> None:
    rt = LocalRuntime(_settings(url, Path(home)))
    try:
        loop = SchedulerLoop(rt, drive="inline")
        mine: list[str] = []
        for now in STEPS:
            barrier.wait(timeout=60)
            mine.extend(f.execution_id for f in loop.run_once(now) if f.launched)
        out.put(mine)
    except BaseException as exc:
        out.put(repr(exc))
    finally:
        rt.close()


def _check(url: str, tmp_path: Path, results: list[Any]) -> None:
    errors = [r for r in results if isinstance(r, str)]
    assert not errors, errors
    ids = [eid for r in results for eid in r]
    assert len(ids) == len(set(ids)) == 6  # 01:00 ... 06:00, each once
    rt = LocalRuntime(_settings(url, tmp_path))
    try:
        records = [rt.meta.get_execution(eid) for eid in ids]
        assert {r.phase for r in records} == {"succeeded"}
        assert rt.meta.count_executions() == 6
    finally:
        rt.close()


def test_two_processes_on_one_sqlite_file(sqlite_url: str, tmp_path: Path) -> None:
    _activate(sqlite_url, tmp_path)
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
    _activate(pg_url, tmp_path)
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
