"""``overlap="skip"`` and a run of an earlier instant that no process drives any more.

A local scheduler killed (or stopped with Ctrl-C twice) leaves its run ``running`` in the
store with a lease that lapses. Nothing resumes it by itself, so it is not "still going": a
``skip`` schedule that waited for it would never fire again.
"""

from __future__ import annotations

import datetime as dt

import pytest

import airfoil as af
from airfoil.engine.scheduler_loop import SchedulerLoop, activate_schedule, schedule_store
from airfoil.local import LocalRuntime
from airfoil.sdk._launch_plan import FixedRate, LaunchPlan

pytestmark = pytest.mark.unit

HOUR = 3600.0
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()


@af.task
def stamp(run_date: dt.datetime) -> str:
    return run_date.isoformat()


@af.workflow
def stamped(run_date: dt.datetime) -> str:
    return stamp(run_date=run_date)


SINGLE = LaunchPlan(
    stamped,
    "single_hourly",
    schedule=FixedRate(dt.timedelta(hours=1), kickoff_time_input_arg="run_date", overlap="skip"),
)


def interrupted_first_run(rt: LocalRuntime) -> str:
    """The first instant launched, then its driver gone: a lease that lapsed an hour ago."""
    activate_schedule(rt.meta, SINGLE.spec, now=START)
    (first,) = SchedulerLoop(rt, drive="none").run_once(START + HOUR)
    assert rt.meta.acquire_lease(first.execution_id, "gone-driver", START + HOUR, 5.0)
    return first.execution_id


def test_an_interrupted_run_does_not_keep_a_skip_schedule_from_firing(
    rt: LocalRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="airfoil.scheduler")
    stuck = interrupted_first_run(rt)
    fired = SchedulerLoop(rt, drive="inline").run_once(START + 3.5 * HOUR)
    # catching up, a skip schedule launches its newest instant (02:00 is passed over, logged)
    assert [(f.instant, f.launched, f.skipped) for f in fired] == [(START + 3 * HOUR, True, False)]
    for f in fired:
        assert rt.meta.get_execution(f.execution_id).phase == "succeeded"
    assert schedule_store(rt.meta).get_schedule("single_hourly").last_execution_id == (
        fired[-1].execution_id
    )
    # the interrupted run is left as it was, and the log says how to carry it on
    assert rt.meta.get_execution(stuck).phase == "queued"
    assert f"airfoil executions resume {stuck}" in caplog.text
    assert "interrupted" in caplog.text


@pytest.mark.parametrize("lease", ["renewed", "none yet"])
def test_a_run_that_is_driven_or_waits_for_its_driver_holds_a_skip_schedule(
    rt: LocalRuntime, lease: str
) -> None:
    """A renewed lease is a live driver; a queued run without a lease waits for one (a
    loop's busy pool, another loop's): neither is interrupted."""
    stuck = interrupted_first_run(rt)
    if lease == "renewed":
        assert rt.meta.acquire_lease(stuck, "gone-driver", START + 3 * HOUR, HOUR)
    else:
        rt.meta.release_lease(stuck, "gone-driver")
    fired = SchedulerLoop(rt, drive="inline").run_once(START + 3.5 * HOUR)
    assert [(f.launched, f.skipped, f.execution_id) for f in fired] == [(False, True, stuck)]
    assert schedule_store(rt.meta).get_schedule("single_hourly").last_execution_id == stuck


def test_a_server_leaves_a_lapsed_run_to_its_slots(rt: LocalRuntime) -> None:
    """Left runs (a server's packaged plans, ``drive="none"``) are resumed by whoever claims
    them: the schedule keeps waiting for them."""
    stuck = interrupted_first_run(rt)
    fired = SchedulerLoop(rt, drive="none").run_once(START + 3.5 * HOUR)
    assert [(f.skipped, f.execution_id) for f in fired] == [(True, stuck)]
