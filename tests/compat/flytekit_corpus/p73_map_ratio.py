import typing
from functools import partial

from airfoil.compat.flytekit import Resources, map_task, task, workflow


@task
def reciprocal(x: int) -> float:
    if x == 0:
        raise ZeroDivisionError("zero has no reciprocal")
    return round(1 / x, 3)


@task
def scale(x: int, factor: int) -> int:
    return x * factor


@task
def keep_known(xs: typing.List[typing.Optional[float]]) -> typing.List[float]:
    return [x for x in xs if x is not None]


@workflow
def tolerant(xs: typing.List[int]) -> typing.List[float]:
    rs = map_task(reciprocal, concurrency=2, min_success_ratio=0.5)(x=xs)
    return keep_known(xs=rs)


@workflow
def scaled(xs: typing.List[int]) -> typing.List[int]:
    return map_task(partial(scale, factor=10), concurrency=1)(x=xs).with_overrides(
        requests=Resources(cpu="1", mem="200Mi")
    )


if __name__ == "__main__":
    print(tolerant(xs=[1, 2, 0, 4]))
    print(scaled(xs=[1, 2, 3]))
