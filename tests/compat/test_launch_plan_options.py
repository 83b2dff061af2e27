"""flytekit's ``LaunchPlan.get_or_create`` / ``create`` keywords: the ones Airfoil cannot honour
and whose absence changes what runs are refused by name, and a keyword flytekit does not take
is a ``TypeError`` as in flytekit. Before 2026-12-06 any keyword was accepted and recorded, so
a misspelt ``schedules=`` made a plan that never fires, ``overwrite_cache=True`` still answered
from the cache and ``auto_activate=True`` left the schedule inactive, all without a word."""

from __future__ import annotations

import pytest

from airfoil.compat.flytekit import CronSchedule, LaunchPlan, task, workflow
from airfoil.core.errors import DefinitionError


@task
def inc(x: int) -> int:
    return x + 1


@workflow
def wf(x: int = 1) -> int:
    return inc(x=x)


def test_a_misspelt_keyword_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match="schedules"):
        LaunchPlan.get_or_create(wf, "lp_typo", schedules=CronSchedule(schedule="0 * * * *"))
    with pytest.raises(TypeError, match="fixed_input"):
        LaunchPlan.create("lp_typo2", wf, fixed_input={"x": 2})


def test_overwrite_cache_is_refused_saying_what_to_do() -> None:
    with pytest.raises(DefinitionError, match="overwrite_cache") as err:
        LaunchPlan.get_or_create(wf, "lp_overwrite", overwrite_cache=True)
    assert "cache_version" in str(err.value)
    LaunchPlan.get_or_create(wf, "lp_no_overwrite", overwrite_cache=False)  # nothing to do


def test_auto_activate_is_refused_saying_how_to_activate() -> None:
    with pytest.raises(DefinitionError, match="auto_activate") as err:
        LaunchPlan.get_or_create(
            wf, "lp_auto", schedule=CronSchedule(schedule="0 * * * *"), auto_activate=True
        )
    assert "airfoil schedules activate" in str(err.value)


def test_trigger_and_concurrency_are_refused() -> None:
    with pytest.raises(DefinitionError, match="trigger"):
        LaunchPlan.get_or_create(wf, "lp_trigger", trigger=object())
    with pytest.raises(DefinitionError, match="concurrency") as err:
        LaunchPlan.get_or_create(
            wf, "lp_conc", schedule=CronSchedule(schedule="0 * * * *"), concurrency=object()
        )
    assert 'overlap="skip"' in str(err.value)


def test_platform_options_are_still_recorded() -> None:
    plan = LaunchPlan.get_or_create(
        wf, "lp_recorded", max_parallelism=3, raw_output_data_config=None, security_context=None
    )
    assert plan.flyte_options["max_parallelism"] == 3


def test_the_compat_schedules_take_airfoils_overlap() -> None:
    import datetime as dt

    from airfoil.compat.flytekit import FixedRate

    assert CronSchedule(schedule="0 * * * *", overlap="skip").spec.overlap == "skip"
    assert FixedRate(dt.timedelta(hours=1), overlap="skip").spec.overlap == "skip"
