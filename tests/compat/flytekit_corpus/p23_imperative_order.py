from airfoil.compat.flytekit import task, workflow


@task
def produce() -> list[int]:
    return [5, 3, 8]


@task
def side_effect() -> None:
    return None


@task
def largest(xs: list[int]) -> int:
    return max(xs)


@workflow
def wf() -> int:
    first = side_effect()
    xs = produce()
    first >> xs
    return largest(xs=xs)


if __name__ == "__main__":
    print(wf())
