from datetime import timedelta

from airfoil.compat.flytekit import Cache, Resources, task, workflow


@task(
    cache=Cache(version="2", serialize=True),
    retries=2,
    timeout=timedelta(minutes=5),
    resources=Resources(cpu=("1", "2"), mem=("100Mi", "200Mi")),
    environment={"MODE": "fast"},
)
def stats(xs: list[int]) -> tuple[int, int, float]:
    return min(xs), max(xs), sum(xs) / len(xs)


@workflow
def wf(xs: list[int]) -> tuple[int, float]:
    lo, hi, mean = stats(xs=xs)
    return hi, mean


if __name__ == "__main__":
    print(wf(xs=[3, 1, 4, 1, 5]))
    print(wf(xs=[3, 1, 4, 1, 5]))
