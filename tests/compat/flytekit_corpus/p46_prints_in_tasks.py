import typing

from airfoil.compat.flytekit import map_task, task, workflow


@task
def say(name: str) -> str:
    print(f"saying hello to {name}")
    return f"Hello, {name}!"


@task
def sq(x: int) -> int:
    print(f"squaring {x}")
    return x * x


@workflow
def wf(name: str = "world") -> str:
    return say(name=name)


@workflow
def mwf(xs: typing.List[int] = [1, 2, 3]) -> typing.List[int]:  # noqa: B006
    return map_task(sq)(x=xs)


if __name__ == "__main__":
    print(f"Running wf() {wf()}")
    print(say(name="direct"))
    print(mwf())
