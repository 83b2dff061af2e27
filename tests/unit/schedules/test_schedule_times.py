"""The pure "what is due" computation: cron instants across DST changes, fixed rates, ids."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest

from airfoil.core.errors import ConfigError
from airfoil.core.ids import validate_execution_id
from airfoil.core.launch_plans import CronScheduleSpec, FixedRateSpec
from airfoil.engine.schedules import (
    describe_schedule,
    fire_times,
    kickoff_datetime,
    newest_fire_times,
    next_fire_after,
    scheduled_execution_id,
    validate_schedule,
)

pytestmark = pytest.mark.unit

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.UTC


def ts(*args: int, tz: dt.tzinfo = UTC) -> float:
    return dt.datetime(*args, tzinfo=tz).timestamp()  # type: ignore[arg-type, misc]


def utc(instants: list[float]) -> list[str]:
    return [dt.datetime.fromtimestamp(t, UTC).strftime("%m-%d %H:%M") for t in instants]


def paris(instants: list[float]) -> list[str]:
    return [dt.datetime.fromtimestamp(t, PARIS).strftime("%m-%d %H:%M%z") for t in instants]


def iterate(spec: CronScheduleSpec | FixedRateSpec, start: float, n: int) -> list[float]:
    out, t = [], start
    for _ in range(n):
        t = next_fire_after(spec, t)
        out.append(t)
    return out


NIGHTLY = CronScheduleSpec("0 3 * * *", timezone="Europe/Paris")


def test_daily_3am_paris_across_spring_forward() -> None:
    got = iterate(NIGHTLY, ts(2026, 3, 27, 12), 4)
    assert paris(got) == [
        "03-28 03:00+0100",
        "03-29 03:00+0200",  # the change day: 03:00 CEST, once
        "03-30 03:00+0200",
        "03-31 03:00+0200",
    ]
    assert utc(got) == ["03-28 02:00", "03-29 01:00", "03-30 01:00", "03-31 01:00"]


def test_daily_3am_paris_across_fall_back() -> None:
    got = iterate(NIGHTLY, ts(2026, 10, 24, 12), 3)
    assert paris(got) == ["10-25 03:00+0100", "10-26 03:00+0100", "10-27 03:00+0100"]
    # 24 + 1 hours between the firings around the change: one per day, none doubled
    assert got[0] - ts(2026, 10, 24, 1) == 25 * 3600


def test_skipped_time_fires_at_the_next_valid_instant() -> None:
    spec = CronScheduleSpec("30 2 * * *", timezone="Europe/Paris")
    got = iterate(spec, ts(2026, 3, 27, 12), 3)
    # 02:30 does not exist on 2026-03-29: it fires when the gap ends, 03:00 CEST
    assert paris(got) == ["03-28 02:30+0100", "03-29 03:00+0200", "03-30 02:30+0200"]


def test_repeated_time_fires_once() -> None:
    spec = CronScheduleSpec("30 2 * * *", timezone="Europe/Paris")
    got = iterate(spec, ts(2026, 10, 24, 12), 3)
    # 02:30 happens twice on 2026-10-25 (CEST then CET): it fires at the first only
    assert paris(got) == ["10-25 02:30+0200", "10-26 02:30+0100", "10-27 02:30+0100"]
    # and asking from inside the repeated hour does not fire it again
    assert paris([next_fire_after(spec, got[0])]) == ["10-26 02:30+0100"]
    assert paris([next_fire_after(spec, got[0] + 3600)]) == ["10-26 02:30+0100"]


def test_hourly_jobs_follow_the_real_clock_across_changes() -> None:
    spec = CronScheduleSpec("30 * * * *", timezone="Europe/Paris")
    spring = iterate(spec, ts(2026, 3, 28, 23, 0), 3)
    assert [b - a for a, b in itertools.pairwise(spring)] == [3600, 3600]
    autumn = fire_times(spec, ts(2026, 10, 24, 23, 0), ts(2026, 10, 25, 3, 0))
    # 23:30Z (01:30 CEST), 00:30Z (02:30 CEST), 01:30Z (02:30 CET), 02:30Z (03:30 CET)
    assert paris(autumn)[1:3] == ["10-25 02:30+0200", "10-25 02:30+0100"]
    assert [b - a for a, b in itertools.pairwise(autumn)] == [3600] * 3


def test_fire_times_is_inclusive_and_matches_iteration() -> None:
    start, end = ts(2026, 3, 28, 2, 0), ts(2026, 3, 31, 1, 0)
    got = fire_times(NIGHTLY, start, end)
    assert utc(got) == ["03-28 02:00", "03-29 01:00", "03-30 01:00", "03-31 01:00"]
    assert got == iterate(NIGHTLY, start - 1, 4)
    assert fire_times(NIGHTLY, start + 1, start + 2) == []


@pytest.mark.parametrize(
    "spec",
    [
        CronScheduleSpec("30 2 * * *", "Europe/Paris"),  # a skipped time each spring
        CronScheduleSpec("30 * * * *", "Europe/Paris"),  # a repeated hour each autumn
        CronScheduleSpec("*/7 * * * *", "America/New_York"),
        CronScheduleSpec("0 3 * * 1", "Australia/Lord_Howe"),  # half-hour DST changes
        CronScheduleSpec("0 0 29 2 *", "UTC"),  # rare: leap days only
        FixedRateSpec(3600.0),
        FixedRateSpec(37.3),
        FixedRateSpec(1.5 * 86400),
    ],
    ids=str,
)
def test_newest_fire_times_are_the_tail_of_fire_times(spec: CronScheduleSpec) -> None:
    # ranges ending on and around the 2026 DST changes (and one on an instant itself)
    starts = [ts(2026, 3, 27), ts(2026, 10, 23, 12, 30), ts(2026, 3, 28, 0, 30, tz=PARIS)]
    for start, hours, count in itertools.product(starts, [0, 1, 5, 60, 24 * 8], [1, 3, 100]):
        end = start + hours * 3600.0 + (0.0 if hours % 2 else 1800.0)
        full = fire_times(spec, start, end, limit=1_000_000)
        assert newest_fire_times(spec, start, end, count=count) == full[-count:]
    assert newest_fire_times(spec, ts(2026, 1, 2), ts(2026, 1, 1), count=5) == []


def test_newest_fire_times_do_not_walk_a_long_range() -> None:
    # a year of a one-minute cron: half a million instants, of which the newest three
    every_minute = CronScheduleSpec("* * * * *", "UTC")
    newest = newest_fire_times(every_minute, ts(2025, 1, 1), ts(2026, 1, 1, 0, 2), count=3)
    assert utc(newest) == ["01-01 00:00", "01-01 00:01", "01-01 00:02"]
    with pytest.raises(ConfigError, match="more than 10000 instants"):
        fire_times(every_minute, ts(2025, 1, 1), ts(2026, 1, 1))


def test_fixed_rate_is_aligned_to_the_epoch() -> None:
    hourly = FixedRateSpec(interval_s=3600)
    assert utc(iterate(hourly, ts(2026, 1, 1, 10, 17), 2)) == ["01-01 11:00", "01-01 12:00"]
    assert next_fire_after(hourly, ts(2026, 1, 1, 11)) == ts(2026, 1, 1, 12)
    assert fire_times(hourly, ts(2026, 1, 1, 11), ts(2026, 1, 1, 13)) == [
        ts(2026, 1, 1, 11),
        ts(2026, 1, 1, 12),
        ts(2026, 1, 1, 13),
    ]
    odd = FixedRateSpec(interval_s=1.7)  # not a whole number of seconds: float steps
    t = 1000.0
    for _ in range(50):
        nxt = next_fire_after(odd, t)
        assert nxt > t
        t = nxt


def test_fire_times_refuses_huge_and_reversed_ranges() -> None:
    every_minute = CronScheduleSpec("* * * * *")
    with pytest.raises(ConfigError, match="more than 10"):
        fire_times(every_minute, 0.0, 3600.0, limit=10)
    with pytest.raises(ConfigError, match="before its start"):
        fire_times(every_minute, 10.0, 0.0)


def test_kickoff_datetime_is_aware_in_the_schedule_zone() -> None:
    when = kickoff_datetime(NIGHTLY, ts(2026, 3, 29, 1))
    assert (when.hour, when.utcoffset()) == (3, dt.timedelta(hours=2))
    assert str(when.tzinfo) == "Europe/Paris"
    assert kickoff_datetime(FixedRateSpec(60), 0.0) == dt.datetime(1970, 1, 1, tzinfo=UTC)


def test_execution_ids_are_deterministic_valid_and_distinct() -> None:
    t = ts(2026, 3, 29, 1)
    a = scheduled_execution_id("pkg.flows.Nightly_Train!", t)
    assert a == scheduled_execution_id("pkg.flows.Nightly_Train!", t)
    assert a.startswith("nightly-train-20260329t010000z-")
    validate_execution_id(a)
    others = {
        scheduled_execution_id("pkg.flows.Nightly_Train!", t + 1),
        scheduled_execution_id("other.Nightly_Train!", t),
        scheduled_execution_id("pkg.flows.Nightly_Train!", t, project="p"),
        a,
    }
    assert len(others) == 4
    validate_execution_id(scheduled_execution_id("x" * 200, t))
    validate_execution_id(scheduled_execution_id("...", t))


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (CronScheduleSpec("61 * * * *"), "invalid cron"),
        (CronScheduleSpec("0 3 * *"), "invalid cron"),
        (CronScheduleSpec("0 3 * * *", timezone="Mars/Olympus"), "unknown time zone"),
        # a spec registered as JSON with Debian cron's zone prefix (main: "six fields")
        (CronScheduleSpec("CRON_TZ=Europe/Paris 0 3 * * *"), "as timezone= instead"),
        (FixedRateSpec(0.0), "between 1s and 100 years"),
        # the SDK's minimum, one rule with the engine's (main: the engine fired it twice a
        # second while af.FixedRate refused it)
        (FixedRateSpec(0.5), r"between 1s and 100 years \(3162240000s\), got 0.5s"),
    ],
)
def test_invalid_schedules_are_config_errors(spec: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        validate_schedule(spec)  # type: ignore[arg-type]


def test_describe() -> None:
    assert describe_schedule(NIGHTLY) == "cron '0 3 * * *' (Europe/Paris)"
    assert describe_schedule(FixedRateSpec(5400)) == "every 1h30m0s"
    assert describe_schedule(FixedRateSpec(30)) == "every 30s"
    assert describe_schedule(None) == "-"


@pytest.mark.parametrize("expression", ["*/5 * * * * *", "0 0 3 * * *"])
def test_a_six_field_cron_expression_is_refused(expression: str) -> None:
    # The cron library reads a sixth field as seconds. Before, '*/5 * * * * *' was taken
    # (firing every 5 s, 17,280 launches a day) although the docs and the error of a bad
    # expression say five fields; '0 0 3 * * *' meant 03:00:00 as a seconds-first Quartz
    # expression, and a spec registered as JSON went straight to the scheduler.
    from airfoil.core.errors import ConfigError, DefinitionError
    from airfoil.core.launch_plans import CronScheduleSpec
    from airfoil.engine.schedules import next_fire_after, validate_schedule
    from airfoil.sdk._launch_plan import CronSchedule

    with pytest.raises(DefinitionError, match="six fields"):
        CronSchedule(expression)
    spec = CronScheduleSpec(expression=expression)
    with pytest.raises(ConfigError, match="six fields"):
        validate_schedule(spec)
    with pytest.raises(ConfigError, match="six fields"):
        next_fire_after(spec, 0.0)
