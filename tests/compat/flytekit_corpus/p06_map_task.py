from airfoil.compat.flytekit import map_task, task, workflow


@task
def square(x: int) -> int:
    return x * x


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@workflow
def wf(xs: list[int]) -> int:
    return total(xs=map_task(square)(x=xs))


if __name__ == "__main__":
    print(wf(xs=[1, 2, 3, 4]))
