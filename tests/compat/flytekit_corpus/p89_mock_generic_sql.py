"""A generic SQLTask whose outputs are a FlyteSchema, mocked in tests with task_mock and patch
(flytesnacks' testing idiom); pandas frames through the deprecated schema module."""

import datetime

import pandas

from airfoil.compat.flytekit import SQLTask, TaskMetadata, kwtypes, task, workflow
from airfoil.compat.flytekit.testing import patch, task_mock
from airfoil.compat.flytekit.types import schema  # noqa: F401
from airfoil.compat.flytekit.types.schema import FlyteSchema

report = SQLTask(
    "daily-report",
    query_template="SELECT * FROM sales WHERE day = '{{ .Inputs.day }}' LIMIT 5",
    inputs=kwtypes(day=datetime.datetime),
    outputs=kwtypes(results=FlyteSchema),
    metadata=TaskMetadata(retries=1),
)


@task
def yesterday() -> datetime.datetime:
    return datetime.datetime(2024, 3, 1) - datetime.timedelta(days=1)


@workflow
def report_wf() -> FlyteSchema:
    return report(day=yesterday())


@task
def make(a: int) -> pandas.DataFrame:
    return pandas.DataFrame(data={"col1": [a, 2], "col2": [a, 4]})


@task
def extend(df: pandas.DataFrame) -> pandas.DataFrame:
    return pandas.concat([df, pandas.DataFrame(data={"col1": [5, 10], "col2": [5, 10]})])


@workflow
def frames_wf(a: int) -> pandas.DataFrame:
    return extend(df=make(a=a))


def with_task_mock():
    with task_mock(report) as mock:
        mock.return_value = pandas.DataFrame(data={"item": ["a", "b"], "qty": [3, 4]})
        out = report_wf().open().all()
        print(out.to_dict("list"))


def with_patch():
    @patch(report)
    def check(mock_report):
        mock_report.return_value = pandas.DataFrame(data={"item": ["c"], "qty": [9]})
        print(report_wf().open().all().to_dict("list"))

    check()


if __name__ == "__main__":
    with_task_mock()
    with_patch()
    print(frames_wf(a=42))
    try:
        report_wf()
    except Exception:
        print("unmocked SQL task failed")
