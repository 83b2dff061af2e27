import datetime

from airfoil.compat.flytekit import task, workflow


@task
def days_between(start: datetime.datetime, end: datetime.datetime) -> int:
    return (end - start).days


@task
def add_days(start: datetime.datetime, days: int) -> datetime.datetime:
    return start + datetime.timedelta(days=days)


@workflow
def wf(start: datetime.datetime, days: int) -> int:
    return days_between(start=start, end=add_days(start=start, days=days))


if __name__ == "__main__":
    print(wf(start=datetime.datetime(2024, 1, 30, tzinfo=datetime.UTC), days=45))
