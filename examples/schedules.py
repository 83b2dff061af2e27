"""Launch plans and schedules: a nightly report at 03:00 Paris time, and an hourly refresh.

Run a launch plan once, here (defaults and fixed inputs are merged in; giving a fixed input
is an error)::

    cd examples && python -c "import schedules as s; print(s.nightly(region='it'))"

Schedule it, backfill the days it missed, and run the scheduler::

    airfoil schedules activate examples/schedules.py nightly
    airfoil schedules list
    airfoil schedules backfill nightly_sales_report --from 2026-03-27 --to 2026-03-31
    airfoil scheduler                     # foreground; Ctrl-C stops it
    airfoil schedules deactivate nightly_sales_report

``kickoff_time_input_arg`` passes each firing's scheduled instant (an aware ``datetime`` in
the schedule's time zone) to the workflow, so a backfilled run computes the report of *its*
day, not of today.
"""

from __future__ import annotations

import datetime as dt

import airfoil as af


@af.task
def load_sales(day: dt.date, region: str) -> list[float]:
    """Pretend to load one day of sales: deterministic numbers from the date."""
    seed = day.toordinal() + sum(map(ord, region))
    return [float((seed * k) % 97) for k in range(1, 25)]


@af.task
def summarise(sales: list[float], region: str, day: dt.date, currency: str) -> str:
    total = sum(sales)
    return f"{region} {day.isoformat()}: {total:.0f} {currency} over {len(sales)} hours"


@af.task
def day_of(when: dt.datetime) -> dt.date:
    """The calendar day a report covers: the day before the run, in the run's time zone."""
    return when.date() - dt.timedelta(days=1)


@af.workflow
def sales_report(run_date: dt.datetime, region: str = "eu", currency: str = "EUR") -> str:
    day = day_of(when=run_date)
    return summarise(
        sales=load_sales(day=day, region=region), region=region, day=day, currency=currency
    )


#: Every night at 03:00 in Paris, whatever the daylight-saving time: once a day, also on the
#: days the clocks change. The region may be overridden at launch; the currency may not.
nightly = af.LaunchPlan.get_or_create(
    sales_report,
    "nightly_sales_report",
    default_inputs={"region": "fr", "run_date": dt.datetime(2026, 3, 29, 3, tzinfo=dt.UTC)},
    fixed_inputs={"currency": "EUR"},
    schedule=af.CronSchedule(
        "0 3 * * *", timezone="Europe/Paris", kickoff_time_input_arg="run_date"
    ),
    # Add af.Webhook("https://hooks.slack.com/services/...", phases=["failed"]) to be told
    # in Slack; a failing webhook is logged and never fails the run.
    notifications=[af.LogNotification(phases=["succeeded", "failed", "aborted"])],
)

#: Every hour on the hour (UTC), for the German store.
hourly = af.LaunchPlan.get_or_create(
    sales_report,
    "hourly_sales_refresh",
    fixed_inputs={"region": "de"},
    schedule=af.FixedRate(dt.timedelta(hours=1), kickoff_time_input_arg="run_date"),
)
