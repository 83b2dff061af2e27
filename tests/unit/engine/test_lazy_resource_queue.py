"""The resource queue is built when a task first asks for resources, not for every drive:
a run of tasks that ask for nothing imports no scheduler and detects no GPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import airfoil as af
from airfoil.core.resources import SCHEDULING_POLICIES
from airfoil.local import LocalRuntime, spec_of
from airfoil.scheduler import UnknownPolicyError, policy_names
from airfoil.settings import AirfoilSettings
from airfoil.types import ValueContext

pytestmark = pytest.mark.unit


@af.task
def plain(x: int) -> int:
    return x + 1


@af.task(requests=af.Resources(cpu=1))
def asks(x: int) -> int:
    return x * 2


@af.workflow
def plain_flow(x: int = 1) -> int:
    return plain(x=x)


@af.workflow
def asking_flow(x: int = 1) -> int:
    return asks(x=plain(x=x))


def _runtime(tmp_path: Path, **extra: object) -> LocalRuntime:
    return LocalRuntime(
        AirfoilSettings(
            home=str(tmp_path / "home"),
            database_url="memory://",
            blob_url=str(tmp_path / "b"),
            **extra,  # type: ignore[arg-type]
        )
    )


def test_the_policy_names_are_the_schedulers() -> None:
    assert set(policy_names()) == SCHEDULING_POLICIES


def test_a_drive_of_plain_tasks_builds_no_queue_and_one_that_asks_builds_it(
    tmp_path: Path,
) -> None:
    rt = _runtime(tmp_path)
    try:
        x = {"x": rt.types.to_value(1, int, ValueContext(blobs=rt.blobs))}
        engine = rt.engine()
        record = engine.drive(engine.launch(spec_of(plain_flow), x).id)
        assert record.phase == "succeeded"
        assert rt._resources is None and engine._resources is None
        engine = rt.engine()
        record = engine.drive(engine.launch(spec_of(asking_flow), x).id)
        assert record.phase == "succeeded"
        assert rt._resources is not None and engine.resources is rt._resources
    finally:
        rt.close()


def test_an_unknown_policy_still_fails_when_the_engine_is_made(tmp_path: Path) -> None:
    rt = _runtime(tmp_path, scheduler_policy="fifoo")
    try:
        with pytest.raises(UnknownPolicyError, match="'fifoo'; choose one of: fifo"):
            rt.engine()
    finally:
        rt.close()


def test_a_plain_run_imports_no_scheduler(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "import airfoil as af\n"
        "@af.task\n"
        "def one(x: int) -> int:\n"
        "    return x\n"
        "@af.workflow\n"
        "def wf(x: int = 1) -> int:\n"
        "    return one(x=x)\n"
        "assert wf() == 1\n"
        "print(sorted(m for m in sys.modules if m.startswith('airfoil.scheduler')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, AIRFOIL_HOME=str(tmp_path / "home")),
    ).stdout
    assert out.strip() == "[]"
