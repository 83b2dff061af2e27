from airfoil.compat.flytekit import task, workflow
from airfoil.compat.flytekit.testing import patch, task_mock


@task
def fetch_rows(n: int) -> list[int]:
    if n >= 0:
        raise RuntimeError("talks to a production database")
    return []


@task
def total(rows: list[int]) -> int:
    return sum(rows)


@workflow
def pipeline(n: int) -> int:
    return total(rows=fetch_rows(n=n))


@patch(fetch_rows)
def check_with_patch(mock_fetch) -> int:
    mock_fetch.return_value = [10, 20]
    return pipeline(n=2)


if __name__ == "__main__":
    with task_mock(fetch_rows) as mock:
        mock.return_value = [1, 2, 3]
        print(pipeline(n=3))
    print(check_with_patch())
