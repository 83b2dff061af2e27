"""A schedule's firing id is deterministic and ends in a short digest, in the one id space of
every project: another project can name its plan so that its firing at the same instant gets
the same id (``b5228715.nightly`` of project ``beta`` was found so, against ``alpha``'s
``tenant_flows.nightly`` at 01:00). That execution is not this firing's: the firing takes the
plan's next id and launches in its own project, and a backfill of the instant finds it
again. On main, alpha's instant was "launched already" (beta's run), silently never run.
On SQLite and PostgreSQL."""

from __future__ import annotations

import textwrap
from pathlib import Path

import msgspec
import pytest

from airfoil.engine.scheduler_loop import SchedulerLoop, activate_schedule, backfill
from airfoil.engine.schedules import scheduled_execution_id
from airfoil.local import LocalRuntime
from airfoil.settings import AirfoilSettings

pytestmark = pytest.mark.integration

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
AT = START + 3600.0  # the first instant of an hourly plan activated at START
ALPHA = ("alpha", "tenant_flows.nightly")
BETA = ("beta", "b5228715.nightly")  # its digest at AT matches alpha's (found by search)

FLOWS = """
import datetime as dt
import airfoil as af
from airfoil.sdk._launch_plan import FixedRate, LaunchPlan


@af.task
def tag(when: dt.datetime) -> str:
    return when.isoformat()


@af.workflow
def tagged(when: dt.datetime) -> str:
    return tag(when=when)


plan = LaunchPlan.get_or_create(
    tagged, "nightly", schedule=FixedRate(dt.timedelta(hours=1), kickoff_time_input_arg="when")
)
"""


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


def test_another_projects_run_under_a_firings_id_is_not_that_firing(
    url: str, tmp_path: Path
) -> None:
    from airfoil.cli._load import load_entity
    from airfoil.sdk._versioning import project_root

    def eid(who: tuple[str, str]) -> str:
        return scheduled_execution_id(who[1], AT, project=who[0], domain="development")

    assert eid(ALPHA) == eid(BETA), "the test's plan names no longer collide"
    code = tmp_path / "code"
    code.mkdir()
    (code / "tenant_flows.py").write_text(textwrap.dedent(FLOWS))
    plan = load_entity(str(code / "tenant_flows.py"), "plan")
    settings = AirfoilSettings(home=str(tmp_path), database_url=url, blob_url=str(tmp_path / "b"))
    rt = LocalRuntime(settings)
    try:
        loop = SchedulerLoop(rt, drive="inline")

        def activate(who: tuple[str, str]) -> None:
            spec = msgspec.structs.replace(plan.spec, name=who[1])
            root = project_root(plan.module)
            activate_schedule(rt.meta, spec, now=START, code_root=root, project=who[0])

        activate(BETA)
        [theirs] = loop.run_once(AT)
        assert theirs.launched and theirs.execution_id == eid(BETA)
        activate(ALPHA)
        [mine] = loop.run_once(AT)
        assert mine.launched and not mine.error, mine
        assert mine.execution_id != eid(ALPHA)
        record = rt.meta.get_execution(mine.execution_id)
        assert (record.project, record.phase) == ("alpha", "succeeded")
        assert rt.meta.get_execution(eid(BETA)).project == "beta"  # left as it was
        schedule = loop.store.get_schedule(ALPHA[1], project="alpha")
        assert schedule.last_execution_id == mine.execution_id

        alpha = loop.store.get_schedule(ALPHA[1], project="alpha")
        [again] = backfill(rt, alpha, AT, AT, drive=False)
        assert (again.execution_id, again.launched, again.error) == (mine.execution_id, False, "")
        assert rt.meta.count_executions() == 2
    finally:
        rt.close()


TRIGGERED = """
import airfoil as af
from airfoil.sdk._launch_plan import LaunchPlan


@af.task
def retrain(version: int) -> int:
    return version


@af.workflow
def retrain_wf(version: int) -> int:
    return retrain(version=version)


plan = LaunchPlan.get_or_create(
    retrain_wf, "retrain", trigger=af.on_artifact("events", version_input="version")
)
"""


def test_another_projects_run_under_a_triggered_id_is_not_that_firing(
    url: str, tmp_path: Path
) -> None:
    """The same for an artifact trigger's id (8 hex: beta's run is placed under alpha's id
    here, as a matching plan name of beta's would)."""
    from dataclasses import replace

    from airfoil.cli._load import load_entity
    from airfoil.engine.artifact_triggers import activate_trigger, triggered_execution_id
    from airfoil.engine.launch_plans import launch_launch_plan, launch_values
    from airfoil.sdk._versioning import project_root
    from airfoil.store.artifacts import ArtifactDraft, open_artifact_store
    from airfoil.types import ValueContext, default_type_engine

    code = tmp_path / "code"
    code.mkdir()
    (code / "retrain_flows.py").write_text(textwrap.dedent(TRIGGERED))
    plan = load_entity(str(code / "retrain_flows.py"), "plan")
    root = project_root(plan.module)
    settings = AirfoilSettings(home=str(tmp_path), database_url=url, blob_url=str(tmp_path / "b"))
    rt = LocalRuntime(settings)
    artifacts = open_artifact_store(url, str(tmp_path))
    try:
        loop = SchedulerLoop(rt, drive="inline", artifacts=artifacts)
        activate_trigger(
            loop.store, artifacts, plan.spec, now=START, code_root=root, project="alpha"
        )
        draft = ArtifactDraft(
            project="alpha", name="events", kind="data", uri="file:///d/1", content_hash="h1"
        )
        version = artifacts.add_version(draft, START + 1)[0].version
        eid = triggered_execution_id(
            "retrain", "events", version, project="alpha", domain="development"
        )
        beta = rt.engine()
        beta.settings = replace(beta.settings, project="beta")
        types = default_type_engine()
        given = {"version": types.to_value(7, int, ValueContext(blobs=beta.blobs))}
        values = launch_values(plan.spec, given, types, beta.blobs)
        launch_launch_plan(beta, plan.spec, values, execution_id=eid, code_root=root)
        [mine] = loop.run_triggers(START + 2)
        assert mine.launched and not mine.error and mine.execution_id != eid, mine
        record = rt.meta.get_execution(mine.execution_id)
        assert (record.project, record.phase) == ("alpha", "succeeded")
        assert rt.meta.get_execution(eid).project == "beta"
        schedule = loop.store.get_schedule("retrain", project="alpha")
        assert schedule.last_execution_id == mine.execution_id
    finally:
        artifacts.close()
        rt.close()
