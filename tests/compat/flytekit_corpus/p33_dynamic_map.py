import typing

from airfoil.compat.flytekit import dynamic, map_task, task, workflow


@task
def cube(x: int) -> int:
    return x**3


@task
def chunk(xs: typing.List[int], size: int) -> typing.List[typing.List[int]]:
    return [xs[i : i + size] for i in range(0, len(xs), size)]


@task
def add_all(parts: typing.List[int]) -> int:
    return sum(parts)


@dynamic
def per_chunk(chunks: typing.List[typing.List[int]]) -> typing.List[int]:
    return [add_all(parts=map_task(cube)(x=c)) for c in chunks]


@workflow
def wf(xs: typing.List[int]) -> typing.List[int]:
    return per_chunk(chunks=chunk(xs=xs, size=2))


if __name__ == "__main__":
    print(wf(xs=[1, 2, 3, 4, 5]))
