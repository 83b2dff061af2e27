import datetime

from airfoil.compat.flytekit import CronSchedule, FixedRate, LaunchPlan, task, workflow


@task
def stamp(when: datetime.datetime, label: str) -> str:
    return f"{label}@{when.year}"


@workflow
def report(when: datetime.datetime, label: str = "report") -> str:
    return stamp(when=when, label=label)


nightly = LaunchPlan.get_or_create(
    report,
    name="nightly_report",
    schedule=CronSchedule(schedule="0 3 * * *", kickoff_time_input_arg="when"),
)
hourly = LaunchPlan.get_or_create(
    report,
    name="hourly_report",
    schedule=FixedRate(duration=datetime.timedelta(hours=1), kickoff_time_input_arg="when"),
    default_inputs={"label": "hourly"},
)

if __name__ == "__main__":
    print(nightly.name, hourly.name)
    print(hourly(when=datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)))
