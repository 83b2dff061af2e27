import functools

import airfoil.compat.flytekit as flytekit
from airfoil.compat.flytekit import task, workflow


@task
def scale(x: int, factor: int) -> int:
    return x * factor


@workflow
def wf(xs: list[int], factor: int) -> list[int]:
    return flytekit.map_task(functools.partial(scale, factor=factor), concurrency=2)(x=xs)


if __name__ == "__main__":
    print(wf(xs=[1, 2, 3], factor=10))
