"""A task setting of the wrong type is a ``DefinitionError`` naming it, when the task is
defined. Before 2026-12-06 ``cache_version=2`` (an int) and ``environment={"N": 1}`` were
accepted into the task's spec, every run of a workflow calling the task then failed with
``msgspec.ValidationError: Expected `str`, got `int` - at `$.nodes[0].task.cache.version```
when the stored spec was read back, and so did ``airfoil executions list`` for the whole home."""

from __future__ import annotations

import re
from typing import Any

import pytest

import airfoil as af
from airfoil.core.errors import DefinitionError

pytestmark = pytest.mark.unit


def _define(**options: Any) -> Any:
    @af.task(**options)
    def inc(x: int) -> int:
        return x + 1

    return inc


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"cache": True, "cache_version": 2}, "cache_version must be a string"),
        ({"cache": True, "cache_version": 1.5}, "cache_version='1.5'"),
        ({"environment": {"N": 1}}, "environment"),
        ({"environment": {1: "x"}}, "environment"),
        ({"environment": ["N=1"]}, "environment"),
        ({"cache": "yes"}, "'cache' is not of its type"),
        ({"interruptible": "yes"}, "'interruptible' is not of its type"),
        ({"docs": 123}, "'docs' is not of its type"),
        ({"name": 123}, "name=...) takes a string"),
    ],
)
def test_a_setting_of_the_wrong_type_is_refused_naming_it(
    options: dict[str, Any], said: str
) -> None:
    with pytest.raises(DefinitionError, match=re.escape(said)):
        _define(**options)


def test_the_right_types_still_run() -> None:
    inc = _define(cache=True, cache_version="2", environment={"N": "1"})
    assert inc.spec.cache.version == "2" and inc.spec.environment == {"N": "1"}

    @af.workflow
    def wf(x: int = 1) -> int:
        return inc(x=x)

    assert wf(x=1) == 2


def _workflow() -> Any:
    inc = _define()

    @af.workflow
    def wf(x: int = 1) -> int:
        return inc(x=x)

    return wf


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"labels": {"team": 1}}, "labels must map strings to strings, got 'team': 1"),
        ({"labels": {1: "a"}}, "labels must map strings to strings"),
        ({"labels": ["team"]}, "labels must be a dict"),
        ({"schedule": "0 3 * * *"}, "schedule takes af.CronSchedule"),
        ({"notifications": ["https://x"]}, "notifications takes af.Webhook"),
        ({"notifications": "log"}, "notifications takes a list"),
        ({"trigger": "model"}, "trigger takes af.on_artifact"),
    ],
)
def test_a_launch_plan_setting_of_the_wrong_type_is_refused_naming_it(
    options: dict[str, Any], said: str
) -> None:
    """``labels={"team": 1}`` went into every execution the plan launched, and each such
    record failed to decode (``$.labels[...]``): the run itself and ``executions list``."""
    with pytest.raises(DefinitionError, match=re.escape(said)):
        af.LaunchPlan(_workflow(), "lp", **options)
    with pytest.raises(DefinitionError, match=re.escape(said)):
        af.LaunchPlan.get_or_create(_workflow(), "lp-bad", **options)


def test_a_launch_plan_name_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(DefinitionError, match="name must be a string, got 5"):
        af.LaunchPlan(_workflow(), 5)  # type: ignore[arg-type]


@pytest.mark.parametrize(("setting", "value"), [("name", 123), ("docs", 123)])
def test_a_workflow_setting_of_the_wrong_type_is_refused(setting: str, value: Any) -> None:
    """Stored in every execution's spec: ``$.workflow`` / ``$.docs`` failed to decode."""
    inc = _define()
    with pytest.raises(DefinitionError, match=re.escape(f"@workflow({setting}=...) takes")):

        @af.workflow(**{setting: value})
        def wf(x: int = 1) -> int:
            return inc(x=x)


def test_a_launch_plan_with_right_types_still_runs() -> None:
    plan = af.LaunchPlan(
        _workflow(),
        "lp-good",
        labels={"team": "ml"},
        notifications=(n for n in [af.LogNotification()]),
    )
    assert plan.spec.labels == {"team": "ml"} and len(plan.notifications) == 1
    assert plan(x=2) == 3
