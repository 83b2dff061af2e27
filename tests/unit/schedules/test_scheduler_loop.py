"""The scheduler loop on a controllable clock: right instants (across DST), exactly once with
two loops, catch-up, activate/deactivate, backfills that are idempotent."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import airfoil as af
from airfoil.core.clock import FakeClock
from airfoil.core.errors import ConfigError, NotFoundError
from airfoil.core.launch_plans import FixedRateSpec, LaunchPlanSpec
from airfoil.engine.scheduler_loop import (
    SchedulerLoop,
    activate_schedule,
    backfill,
    deactivate_schedule,
    schedule_store,
)
from airfoil.engine.schedules import scheduled_execution_id
from airfoil.local import LocalRuntime
from airfoil.sdk._launch_plan import CronSchedule, FixedRate, LaunchPlan
from airfoil.store._schedules import ScheduleStore
from airfoil.types import ValueContext

pytestmark = pytest.mark.unit

PARIS = ZoneInfo("Europe/Paris")
HOUR = 3600.0


@af.task
def report(run_date: dt.datetime, region: str) -> str:
    return f"{region}@{run_date.isoformat()}"


@af.workflow
def daily_report(run_date: dt.datetime, region: str = "eu") -> str:
    return report(run_date=run_date, region=region)


NIGHTLY = LaunchPlan(
    daily_report,
    "nightly_report",
    fixed_inputs={"region": "fr"},
    schedule=CronSchedule("0 3 * * *", timezone="Europe/Paris", kickoff_time_input_arg="run_date"),
)
HOURLY = LaunchPlan(
    daily_report,
    "hourly_report",
    schedule=FixedRate(dt.timedelta(hours=1), kickoff_time_input_arg="run_date"),
)


def sched(rt: LocalRuntime) -> ScheduleStore:
    return schedule_store(rt.meta)


def at(*args: int, tz: dt.tzinfo = dt.UTC) -> float:
    return dt.datetime(*args, tzinfo=tz).timestamp()  # type: ignore[arg-type, misc]


def run_hourly(loop: SchedulerLoop, clock: FakeClock, hours: int) -> list[Any]:
    fired = []
    for _ in range(hours):
        clock.advance(HOUR)
        fired.extend(loop.run_once())
    return fired


def output_of(rt: LocalRuntime, execution_id: str) -> str:
    record = rt.meta.get_execution(execution_id)
    assert record.phase == "succeeded", record.error
    assert record.outputs is not None
    value: str = rt.types.to_python(record.outputs["o0"], str, ValueContext(blobs=rt.blobs))
    return value


@pytest.mark.parametrize(
    ("start", "expected_local"),
    [
        (
            at(2026, 3, 27, 12),  # spring forward on Sunday 2026-03-29
            ["2026-03-28T03:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T03:00:00+02:00"],
        ),
        (
            at(2026, 10, 23, 12),  # fall back on Sunday 2026-10-25
            ["2026-10-24T03:00:00+02:00", "2026-10-25T03:00:00+01:00", "2026-10-26T03:00:00+01:00"],
        ),
    ],
    ids=["spring", "autumn"],
)
def test_fires_at_3am_paris_once_a_day_across_dst(
    rt: LocalRuntime, start: float, expected_local: list[str]
) -> None:
    clock = FakeClock(start)
    activate_schedule(rt.meta, NIGHTLY.spec, now=clock.now())
    loop = SchedulerLoop(rt, clock=clock, drive="inline")
    fired = run_hourly(loop, clock, 3 * 24)
    local = [dt.datetime.fromtimestamp(f.instant, PARIS).isoformat() for f in fired]
    assert local == expected_local
    assert all(f.launched and not f.error for f in fired)
    # each run got its instant, as an aware Paris datetime, and the fixed input
    assert [output_of(rt, f.execution_id) for f in fired] == [f"fr@{t}" for t in expected_local]
    assert rt.meta.count_executions() == 3
    record = sched(rt).get_schedule("nightly_report")
    assert record.last_execution_id == fired[-1].execution_id
    assert record.next_fire_at is not None and record.next_fire_at > clock.now()


def test_nothing_fires_before_its_instant(rt: LocalRuntime) -> None:
    clock = FakeClock(at(2026, 3, 28, 1, 59))  # 02:59 Paris
    activate_schedule(rt.meta, NIGHTLY.spec, now=clock.now())
    loop = SchedulerLoop(rt, clock=clock, drive="none")
    assert loop.run_once(at(2026, 3, 28, 1, 59, 59)) == []
    (fired,) = loop.run_once(at(2026, 3, 28, 2, 0))
    assert fired.execution_id == scheduled_execution_id(
        "nightly_report", at(2026, 3, 28, 2), project="default", domain="development"
    )
    assert rt.meta.get_execution(fired.execution_id).phase == "queued"  # drive="none"
    assert loop.run_once(at(2026, 3, 28, 2, 0)) == []  # claimed: never twice


def test_a_fired_instant_left_to_other_drivers_is_handed_on(rt: LocalRuntime) -> None:
    """A server's loop wakes its driver slots (``on_left``) for each instant it launches
    and leaves to them, instead of their next claim."""
    clock = FakeClock(at(2026, 1, 1))
    activate_schedule(rt.meta, HOURLY.spec, now=clock.now())
    left: list[str] = []
    loop = SchedulerLoop(rt, clock=clock, leave=lambda _r: True, on_left=left.append)
    fired = loop.run_once(at(2026, 1, 1, 2))
    assert len(fired) == 2 and left == [f.execution_id for f in fired]
    assert {rt.meta.get_execution(eid).phase for eid in left} == {"queued"}


def test_two_loops_fire_each_instant_exactly_once(rt: LocalRuntime) -> None:
    start = at(2026, 1, 1)
    activate_schedule(rt.meta, HOURLY.spec, now=start)
    activate_schedule(rt.meta, NIGHTLY.spec, now=start)
    loops = [SchedulerLoop(rt, drive="inline") for _ in range(2)]
    barrier = threading.Barrier(2)
    fired: list[list[Any]] = [[], []]

    def run(i: int) -> None:
        for step in range(1, 49):  # one day, every 30 minutes
            barrier.wait(timeout=30)
            fired[i].extend(loops[i].run_once(start + step * 1800.0))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    ids = [f.execution_id for f in fired[0] + fired[1]]
    assert len(ids) == len(set(ids)) == 24 + 1
    assert rt.meta.count_executions() == len(ids)
    assert rt.meta.count_executions(phase="succeeded") == len(ids)


def test_a_loop_that_was_down_catches_up_on_the_newest_instants_beyond_the_limit(
    rt: LocalRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    start = at(2026, 1, 1)
    activate_schedule(rt.meta, HOURLY.spec, now=start)
    loop = SchedulerLoop(rt, drive="none", max_catch_up=5)
    fired = loop.run_once(start + 3.5 * HOUR)  # down for 3.5 hours: 3 missed instants
    assert [f.instant for f in fired] == [start + HOUR, start + 2 * HOUR, start + 3 * HOUR]
    fired = loop.run_once(start + 20.5 * HOUR)  # 17 missed: the newest 5 fired
    assert [f.instant for f in fired] == [start + h * HOUR for h in range(16, 21)]
    assert sched(rt).get_schedule("hourly_report").next_fire_at == start + 21 * HOUR
    assert (
        "skipped the oldest, from 2026-01-01T04:00:00Z to 2026-01-01T15:00:00Z, and fired "
        "the newest 5" in caplog.text
    )
    assert loop.run_once(start + 20.9 * HOUR) == []


def test_150_missed_instants_fire_the_newest_100_and_the_log_names_the_backfill(
    rt: LocalRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    # Before 2026-12-07 the loop fired the oldest 100 and skipped the 50 newest, the latest
    # data included.
    start = at(2026, 1, 1)
    activate_schedule(rt.meta, HOURLY.spec, now=start)
    loop = SchedulerLoop(rt, drive="none")  # the default limit: 100
    fired = loop.run_once(start + 150.5 * HOUR)
    assert [f.instant for f in fired] == [start + h * HOUR for h in range(51, 151)]
    assert all(f.launched and not f.error for f in fired)
    record = sched(rt).get_schedule("hourly_report")
    assert record.next_fire_at == start + 151 * HOUR
    assert record.last_fired_at == start + 150 * HOUR
    assert record.last_execution_id == fired[-1].execution_id
    assert (
        "launch the skipped ones with `airfoil schedules backfill hourly_report "
        "--from 2026-01-01T01:00:00Z --to 2026-01-03T02:00:00Z`" in caplog.text
    )
    # that range is exactly the 50 skipped instants; a backfill of it launches them
    backfilled = backfill(rt, record, start + HOUR, start + 50 * HOUR, drive=False)
    assert [f.instant for f in backfilled] == [start + h * HOUR for h in range(1, 51)]
    assert all(f.launched for f in backfilled)


def test_catch_up_on_a_cron_schedule_keeps_the_newest_across_a_dst_change(
    rt: LocalRuntime,
) -> None:
    hourly_paris = LaunchPlan(
        daily_report,
        "hourly_paris",
        schedule=CronSchedule("30 * * * *", timezone="Europe/Paris"),
        default_inputs={"run_date": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)},
    )
    start = at(2026, 10, 24, 12, tz=PARIS)
    activate_schedule(rt.meta, hourly_paris.spec, now=start)
    loop = SchedulerLoop(rt, drive="none", max_catch_up=4)
    # 02:30 Paris comes twice on 2026-10-25 (CEST, then CET): both are instants
    now = at(2026, 10, 25, 3, 45, tz=PARIS)
    fired = loop.run_once(now)
    assert [dt.datetime.fromtimestamp(f.instant, PARIS).isoformat() for f in fired] == [
        "2026-10-25T01:30:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:30:00+01:00",
        "2026-10-25T03:30:00+01:00",
    ]


def test_deactivate_stops_and_reactivate_starts_from_now(rt: LocalRuntime) -> None:
    start = at(2026, 1, 1)
    activate_schedule(rt.meta, HOURLY.spec, now=start)
    loop = SchedulerLoop(rt, drive="none")
    assert len(loop.run_once(start + HOUR)) == 1
    off = deactivate_schedule(rt.meta, "hourly_report", now=start + HOUR)
    assert not off.active and off.next_fire_at is None
    assert loop.run_once(start + 10 * HOUR) == []
    on = activate_schedule(rt.meta, HOURLY.spec, now=start + 10.5 * HOUR)
    assert on.next_fire_at == start + 11 * HOUR  # no backlog of the inactive hours
    assert on.last_fired_at == start + HOUR and on.created_at == start
    # re-activating an active, unchanged schedule keeps its next instant
    again = activate_schedule(rt.meta, HOURLY.spec, now=start + 13 * HOUR)
    assert again.next_fire_at == start + 11 * HOUR
    assert [f.instant for f in loop.run_once(start + 12 * HOUR)] == [
        start + 11 * HOUR,
        start + 12 * HOUR,
    ]
    with pytest.raises(NotFoundError):
        deactivate_schedule(rt.meta, "nope", now=start)


def test_activating_a_plan_without_schedule_is_refused(rt: LocalRuntime) -> None:
    plain = LaunchPlan(daily_report, "no_schedule")
    with pytest.raises(ConfigError, match="has no schedule"):
        activate_schedule(rt.meta, plain.spec, now=0.0)


def test_backfill_is_idempotent_and_the_loop_agrees(rt: LocalRuntime) -> None:
    now = at(2026, 4, 1)
    record = activate_schedule(rt.meta, NIGHTLY.spec, now=now)
    deactivate_schedule(rt.meta, record.name, now=now)
    record = sched(rt).get_schedule(record.name)
    first = backfill(rt, record, at(2026, 3, 27, tz=PARIS), at(2026, 3, 30, 3, tz=PARIS))
    assert len(first) == 4 and all(f.launched for f in first)
    assert [output_of(rt, f.execution_id)[:22] for f in first] == [
        "fr@2026-03-27T03:00:00",
        "fr@2026-03-28T03:00:00",
        "fr@2026-03-29T03:00:00",
        "fr@2026-03-30T03:00:00",
    ]
    # its latest instant is the schedule's last firing (main: the backfill recorded none)
    got = sched(rt).get_schedule(record.name)
    assert (got.last_fired_at, got.last_execution_id) == (first[-1].instant, first[-1].execution_id)
    assert (got.active, got.next_fire_at) == (False, None)  # nothing else moved
    second = backfill(rt, record, at(2026, 3, 26, tz=PARIS), at(2026, 3, 31, 3, tz=PARIS))
    assert [f.launched for f in second] == [True, False, False, False, False, True]
    assert rt.meta.count_executions() == 6
    assert sched(rt).get_schedule(record.name).last_execution_id == second[-1].execution_id
    # an earlier range (launched already) leaves the later last firing as it is
    backfill(rt, record, at(2026, 3, 27, tz=PARIS), at(2026, 3, 28, 3, tz=PARIS))
    got = sched(rt).get_schedule(record.name)
    assert (got.last_fired_at, got.last_execution_id) == (
        second[-1].instant,
        second[-1].execution_id,
    )
    # a loop claiming an instant a backfill launched launches nothing new
    clock = FakeClock(at(2026, 3, 28, 12))
    sched(rt).set_schedule_active(
        record.name, active=True, next_fire_at=at(2026, 3, 29, 3, tz=PARIS), now=clock.now()
    )
    (fired,) = SchedulerLoop(rt, drive="inline").run_once(at(2026, 3, 29, 12))
    assert not fired.launched and fired.execution_id == second[3].execution_id
    assert rt.meta.count_executions() == 6


def test_a_launch_error_is_reported_and_the_schedule_moves_on(rt: LocalRuntime) -> None:
    start = at(2026, 1, 1)
    record = activate_schedule(rt.meta, HOURLY.spec, now=start)
    # A stored plan whose schedule passes no kickoff time to a workflow that needs one (the
    # SDK refuses to define it; a hand-written spec can still say it).
    record.spec = LaunchPlanSpec(
        name=record.name, workflow=daily_report.spec, schedule=FixedRateSpec(interval_s=HOUR)
    )
    sched(rt).put_schedule(record)
    (fired,) = SchedulerLoop(rt, drive="inline").run_once(start + HOUR)
    assert not fired.launched and "needs input(s) 'run_date'" in fired.error
    assert "(on the CLI: --run-date VALUE)" in fired.error  # main: no word of the flag
    assert sched(rt).get_schedule("hourly_report").next_fire_at == start + 2 * HOUR


def test_background_drive_and_run_forever_stop(rt: LocalRuntime) -> None:
    clock = FakeClock(at(2026, 1, 1, 0, 59, 59))
    activate_schedule(rt.meta, HOURLY.spec, now=clock.now())
    loop = SchedulerLoop(rt, clock=clock, drive="background", poll_s=0.01)
    clock.advance(1.0)
    stop = threading.Event()
    runner = threading.Thread(target=loop.run_forever, args=(stop,))
    runner.start()
    try:
        for _ in range(500):
            if rt.meta.count_executions(phase="succeeded") == 1:
                break
            threading.Event().wait(0.01)
    finally:
        stop.set()
        runner.join(timeout=10)
        loop.close()
    assert not runner.is_alive()
    assert rt.meta.count_executions(phase="succeeded") == 1


@af.task
def slow_echo(run_date: dt.datetime, region: str) -> str:
    import time

    time.sleep(0.05)
    return f"{region}@{run_date.isoformat()}"


@af.workflow
def slow_report(run_date: dt.datetime, region: str) -> str:
    return slow_echo(run_date=run_date, region=region)


def test_background_drives_run_in_parallel_without_mixing_results(rt: LocalRuntime) -> None:
    start = at(2026, 1, 1)
    for region in ("a", "b", "c", "d"):
        plan = LaunchPlan(
            slow_report,
            f"slow_{region}",
            fixed_inputs={"region": region},
            schedule=FixedRate(dt.timedelta(minutes=30), kickoff_time_input_arg="run_date"),
        )
        activate_schedule(rt.meta, plan.spec, now=start)
    loop = SchedulerLoop(rt, drive="background", max_drivers=4)
    try:
        fired = loop.run_once(start + HOUR)
        loop.wait(timeout=30)
    finally:
        loop.close()
    assert len(fired) == 8
    for f in fired:
        region = f.name.removeprefix("slow_")
        when = dt.datetime.fromtimestamp(f.instant, dt.UTC).isoformat()
        assert output_of(rt, f.execution_id) == f"{region}@{when}"


def test_overlap_skip_launches_nothing_while_the_previous_run_is_going(
    rt: LocalRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    """With ``overlap="skip"`` an instant whose previous run has not ended launches nothing
    (logged, the running execution stays the schedule's last), also when a loop that was down
    catches up; once that run ended the next instant launches. The default still launches
    every instant (runs pile up: what a user of a long nightly job does not want)."""
    caplog.set_level("INFO", logger="airfoil.scheduler")
    start = at(2026, 1, 1)
    single = LaunchPlan(
        daily_report,
        "single_hourly",
        schedule=FixedRate(
            dt.timedelta(hours=1), kickoff_time_input_arg="run_date", overlap="skip"
        ),
    )
    activate_schedule(rt.meta, single.spec, now=start)
    activate_schedule(rt.meta, HOURLY.spec, now=start)
    loop = SchedulerLoop(rt, drive="none")  # launched runs stay queued: never ending
    first = loop.run_once(start + HOUR)
    by_plan = {f.name: f for f in first}
    assert by_plan["single_hourly"].launched and not by_plan["single_hourly"].skipped
    running = by_plan["single_hourly"].execution_id
    later = loop.run_once(start + 3.5 * HOUR)  # two more instants, the first run still queued
    skipped = [f for f in later if f.name == "single_hourly"]
    # catching up passes over 02:00 for the newest instant, 03:00, which the run skips
    assert [(f.instant, f.skipped, f.launched, f.execution_id) for f in skipped] == [
        (start + 3 * HOUR, True, False, running)
    ]
    assert "skipped, the run of an earlier instant" in caplog.text
    assert sched(rt).get_schedule("single_hourly").last_execution_id == running
    assert sum(1 for f in later if f.name == "hourly_report" and f.launched) == 2  # "allow"
    # the run ends: the next instant launches again, and catching up launches only one: the
    # newest missed instant (the latest data first), the older ones skipped and logged
    rt.engine().drive(running)
    assert rt.meta.get_execution(running).phase == "succeeded"
    again = [f for f in loop.run_once(start + 6.5 * HOUR) if f.name == "single_hourly"]
    assert [(f.instant, f.launched, f.skipped) for f in again] == [(start + 6 * HOUR, True, False)]
    assert again[0].execution_id != running
    assert (
        "schedule single_hourly: it catches up with one run (overlap='skip'): skipped the "
        "oldest, from 2026-01-01T04:00:00Z to 2026-01-01T05:00:00Z, and fired the newest 1; "
        "launch the skipped ones with `airfoil schedules backfill single_hourly --from "
        "2026-01-01T04:00:00Z --to 2026-01-01T05:00:00Z`"
    ) in caplog.text
    assert rt.meta.count_executions(phase="queued") == 1 + 6  # single's newest + hourly's 6


def test_a_skip_schedule_down_for_days_runs_for_today_not_three_days_ago(
    rt: LocalRuntime,
) -> None:
    """A daily ``overlap="skip"`` job whose loop was down three days launches one run, for
    the newest instant; two loops catching up at once launch it once."""
    start = at(2026, 1, 1)
    daily = LaunchPlan(
        daily_report,
        "daily_skip",
        schedule=CronSchedule("0 3 * * *", kickoff_time_input_arg="run_date", overlap="skip"),
    )
    activate_schedule(rt.meta, daily.spec, now=start)
    now = at(2026, 1, 4, 12)  # instants due: Jan 1, 2, 3 and 4 at 03:00
    loops = [SchedulerLoop(rt, drive="none"), SchedulerLoop(rt, drive="none")]
    fired = [f for loop in loops for f in loop.run_once(now)]
    assert [(f.instant, f.launched, f.skipped) for f in fired] == [(at(2026, 1, 4, 3), True, False)]
    assert rt.meta.count_executions() == 1
    record = sched(rt).get_schedule("daily_skip")
    assert record.next_fire_at == at(2026, 1, 5, 3)
    assert record.last_execution_id == fired[0].execution_id


def test_an_unknown_overlap_is_a_definition_error() -> None:
    with pytest.raises(af.DefinitionError, match=r"unknown overlap 'never'.*'allow'.*'skip'"):
        FixedRate(dt.timedelta(hours=1), overlap="never")
    with pytest.raises(af.DefinitionError, match="CronSchedule: unknown overlap"):
        CronSchedule("0 3 * * *", overlap="Skip")
    # a plan without it is the spec it always was (its hash, its JSON)
    import msgspec

    assert b"overlap" not in msgspec.json.encode(HOURLY.spec.schedule)
