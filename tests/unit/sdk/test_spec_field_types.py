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


# --- a resource limit smaller than its request (memory limit 500Mi with a 1G request; cpu
# likewise) is refused naming both, as Kubernetes and Flyte refuse it (accepted before)


@pytest.mark.parametrize(
    ("requests", "limits", "said"),
    [
        ({"mem": "1G"}, {"mem": "500Mi"}, "mem limit (524288000 bytes, 500Mi) is smaller than "
         "its request (1000000000 bytes"),
        ({"cpu": 2}, {"cpu": "500m"}, "cpu limit (0.5 cores) is smaller than its request (2 "),
        ({"gpu": 2}, {"gpu": 1}, "gpu limit (1 GPUs) is smaller than its request (2 GPUs)"),
    ],
)  # fmt: skip
def test_a_limit_below_its_request_is_refused_naming_both(
    requests: dict[str, Any], limits: dict[str, Any], said: str
) -> None:
    with pytest.raises(DefinitionError, match=re.escape(said)):
        _define(requests=af.Resources(**requests), limits=af.Resources(**limits))


def test_an_override_below_the_tasks_other_side_is_refused() -> None:
    inc = _define(limits=af.Resources(mem="1Gi"))
    with pytest.raises(DefinitionError, match=r"mem limit .* is smaller than its request"):

        @af.workflow
        def wf(x: int = 1) -> int:
            return inc(x=x).with_overrides(requests=af.Resources(mem="2Gi"))


@pytest.mark.parametrize(
    ("requests", "limits"),
    [
        ({"mem": "1G", "cpu": 1}, {"mem": "1G", "cpu": 2}),  # equal or above
        ({"mem": "1G"}, {"cpu": "500m"}),  # other resources: nothing to compare
        ({}, {"mem": "100Mi"}),  # a limit alone
        ({"cpu": 1}, {}),  # a request alone
    ],
)
def test_limits_at_or_above_requests_or_unset_are_fine(
    requests: dict[str, Any], limits: dict[str, Any]
) -> None:
    inc = _define(requests=af.Resources(**requests), limits=af.Resources(**limits))
    assert inc(x=1) == 2
