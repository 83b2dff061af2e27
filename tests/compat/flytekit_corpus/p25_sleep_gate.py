from datetime import timedelta

from airfoil.compat.flytekit import sleep, task, workflow


@task
def before() -> int:
    return 1


@task
def after(x: int) -> int:
    return x + 1


@workflow
def wf() -> int:
    first = before()
    pause = sleep(timedelta(seconds=1))
    second = after(x=first)
    first >> pause
    pause >> second
    return second


if __name__ == "__main__":
    print(wf())
