import typing

from airfoil.compat.flytekit import task, workflow


class Stats(typing.NamedTuple):
    mean: float
    count: int


class Total(typing.NamedTuple):
    total: int


@task
def stats(xs: typing.List[float]) -> Stats:
    return Stats(mean=sum(xs) / len(xs), count=len(xs))


@task
def total(xs: typing.List[int]) -> Total:
    return sum(xs)


@workflow
def wf(xs: typing.List[float]) -> typing.Tuple[float, int, int]:
    s = stats(xs=xs)
    t = total(xs=[1, 2, 3])
    return s.mean, s.count, t.total


if __name__ == "__main__":
    print(wf(xs=[1.0, 2.0, 6.0]))
