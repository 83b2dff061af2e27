"""Launch plans triggered by new artifact versions, on the memory stores: the version reaches
the workflow's input, partitions filter, a re-activation keeps its place, a deactivated trigger
skips what was added meanwhile, and bad definitions are clear errors."""

from __future__ import annotations

import datetime as dt
import time

import pytest

import airfoil as af
from airfoil.core.errors import ConfigError, DefinitionError
from airfoil.core.launch_plans import ArtifactTriggerSpec
from airfoil.engine.artifact_triggers import activate_trigger, describe_trigger, matches
from airfoil.engine.scheduler_loop import (
    SchedulerLoop,
    activate_schedule,
    deactivate_schedule,
    schedule_store,
)
from airfoil.local import LocalRuntime
from airfoil.sdk._launch_plan import FixedRate, LaunchPlan
from airfoil.store.artifacts import ArtifactDraft, ArtifactStore
from airfoil.store.memory_artifacts import MemoryArtifactStore
from airfoil.types import ValueContext

pytestmark = pytest.mark.unit


@af.task
def score(version: int, split: str) -> str:
    return f"scored model:{version} on {split}"


@af.workflow
def score_wf(version: int, split: str = "test") -> str:
    return score(version=version, split=split)


PLAN = LaunchPlan(
    score_wf,
    "score_new_models",
    trigger=af.on_artifact("model", partition={"stage": "*"}, version_input="version"),
)


def publish(store: ArtifactStore, **partitions: str) -> int:
    n = time.time_ns()
    draft = ArtifactDraft(
        project="default",
        name="model",
        kind="model",
        uri=f"mem://{n}",
        content_hash=f"h{n}",
        partitions=partitions,
    )
    return store.add_version(draft, time.time())[0].version


def outputs(rt: LocalRuntime, eid: str) -> str:
    record = rt.meta.get_execution(eid)
    assert record.phase == "succeeded" and record.outputs is not None, record.error
    value: str = rt.types.to_python(record.outputs["o0"], str, ValueContext(blobs=rt.blobs))
    return value


def test_each_new_version_launches_once_with_its_number(rt: LocalRuntime) -> None:
    arts = MemoryArtifactStore()
    publish(arts, stage="dev")  # v1, before activation
    activate_trigger(schedule_store(rt.meta), arts, PLAN.spec, now=time.time())
    loop = SchedulerLoop(rt, drive="inline", artifacts=arts)
    assert loop.run_triggers() == []
    assert publish(arts, stage="dev") == 2
    assert publish(arts) == 3  # no "stage" partition: does not match {"stage": "*"}
    assert publish(arts, stage="prod") == 4
    fired = loop.run_triggers()
    assert [(f.version, f.launched, f.error) for f in fired] == [(2, True, ""), (4, True, "")]
    assert [outputs(rt, f.execution_id) for f in fired] == [
        "scored model:2 on test",
        "scored model:4 on test",
    ]
    assert loop.run_triggers() == []
    # the time-schedule pass never sees a trigger row as due
    assert loop.run_once() == []
    record = schedule_store(rt.meta).get_schedule("score_new_models")
    assert record.last_execution_id == fired[-1].execution_id


def test_reactivation_keeps_the_cursor_and_deactivation_skips(rt: LocalRuntime) -> None:
    arts = MemoryArtifactStore()
    store = schedule_store(rt.meta)
    activate_trigger(store, arts, PLAN.spec, now=time.time())
    assert publish(arts, stage="a") == 1
    activate_trigger(store, arts, PLAN.spec, now=time.time())  # unchanged: keeps its place
    loop = SchedulerLoop(rt, drive="inline", artifacts=arts)
    assert [f.version for f in loop.run_triggers()] == [1]
    deactivate_schedule(rt.meta, "score_new_models", now=time.time())
    publish(arts, stage="a")  # v2 while inactive
    assert loop.run_triggers() == []
    activate_trigger(store, arts, PLAN.spec, now=time.time())
    assert loop.run_triggers() == []  # v2 came before this activation
    assert publish(arts, stage="a") == 3
    assert [f.version for f in loop.run_triggers()] == [3]


def test_matching_and_description() -> None:
    t = ArtifactTriggerSpec(artifact="events", partitions={"day": "*", "region": "eu"})
    assert matches(t, {"day": "2026-12-04", "region": "eu"})
    assert not matches(t, {"day": "2026-12-04", "region": "us"})
    assert not matches(t, {"region": "eu"})
    assert matches(ArtifactTriggerSpec(artifact="events"), {})
    assert describe_trigger(t) == "on new versions of events (day=*, region=eu)"


def test_bad_definitions_are_clear_errors(rt: LocalRuntime) -> None:
    with pytest.raises(DefinitionError, match="not both"):
        LaunchPlan(
            score_wf,
            "both",
            default_inputs={"version": 1},
            schedule=FixedRate(dt.timedelta(minutes=1)),
            trigger=af.on_artifact("model", version_input="version"),
        )
    with pytest.raises(DefinitionError, match="must name an int input"):
        LaunchPlan(score_wf, "bad_input", trigger=af.on_artifact("model", version_input="split"))
    with pytest.raises(DefinitionError, match="required input"):
        LaunchPlan(score_wf, "unset", trigger=af.on_artifact("model"))
    with pytest.raises(DefinitionError, match="name the artifact"):
        af.on_artifact(" ")
    with pytest.raises(ConfigError, match="has no schedule"):
        activate_schedule(rt.meta, PLAN.spec, now=time.time())
    plain = LaunchPlan(score_wf, "plain", default_inputs={"version": 1})
    with pytest.raises(ConfigError, match="no artifact trigger"):
        activate_trigger(schedule_store(rt.meta), MemoryArtifactStore(), plain.spec, now=0.0)


def test_a_launch_left_to_other_drivers_is_handed_on(rt: LocalRuntime) -> None:
    """A server's loop leaves the executions of registered code to its driver slots and
    wakes them with ``on_left`` (as an API launch does); what it drives itself is not."""
    arts = MemoryArtifactStore()
    activate_trigger(schedule_store(rt.meta), arts, PLAN.spec, now=time.time())
    left: list[str] = []
    loop = SchedulerLoop(rt, artifacts=arts, leave=lambda _r: True, on_left=left.append)
    publish(arts, stage="dev")
    (fired,) = loop.run_triggers()
    assert left == [fired.execution_id]
    assert rt.meta.get_execution(fired.execution_id).phase == "queued"  # left: not driven
    driving: list[str] = []
    inline = SchedulerLoop(rt, drive="inline", artifacts=arts, on_left=driving.append)
    publish(arts, stage="dev")
    (driven,) = inline.run_triggers()
    assert driving == [] and outputs(rt, driven.execution_id) == "scored model:2 on test"
