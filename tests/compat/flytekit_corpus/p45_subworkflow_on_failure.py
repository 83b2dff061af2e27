import os
import tempfile
import typing

from airfoil.compat.flytekit import task, workflow
from airfoil.compat.flytekit.types.error import FlyteError

# One name per run, the same in worker processes (they inherit the environment).
RUN = os.environ.setdefault("P45_RUN", str(os.getpid()))
MARKER = os.path.join(tempfile.gettempdir(), f"p45-cleanup-{RUN}.txt")


def note(line: str) -> None:
    with open(MARKER, "a") as f:
        f.write(line + "\n")


@task
def check(x: int) -> int:
    if x > 2:
        raise ValueError(f"too big: {x}")
    return x * 10


@task
def clean_inner(x: int, err: typing.Optional[FlyteError] = None) -> None:
    note(f"inner cleanup x={x} failed={err is not None}")


@task
def clean_outer(x: int, err: typing.Optional[FlyteError] = None) -> None:
    note(f"outer cleanup x={x} failed={err is not None}")


@workflow(on_failure=clean_inner)
def inner(x: int) -> int:
    return check(x=x)


@workflow(on_failure=clean_outer)
def outer(x: int) -> int:
    return inner(x=x)


@workflow
def plain(x: int) -> int:
    return inner(x=x)


def report(label: str) -> None:
    if os.path.exists(MARKER):
        with open(MARKER) as f:
            for line in f.read().splitlines():
                print(label, line)
        os.remove(MARKER)
    else:
        print(label, "no cleanup")


if __name__ == "__main__":
    print(outer(x=1))
    report("ok:")
    for wf in (outer, plain, inner):
        try:
            wf(x=5)
        except Exception:
            print("failed")
        report("failed:")
