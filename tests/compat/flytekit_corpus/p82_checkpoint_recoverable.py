"""Intra-task checkpoints (current_context().checkpoint) and a recoverable failure, in the
style of flytesnacks' checkpoint example (a local run that fails is caught and reported;
Airfoil retries it first, flytekit's local run does not retry)."""

from airfoil.compat.flytekit import current_context, task, workflow
from airfoil.compat.flytekit.exceptions.user import FlyteRecoverableException

RETRIES = 3


@task(retries=RETRIES)
def count_up(n_iterations: int) -> int:
    if n_iterations < 0:
        raise FlyteRecoverableException(f"cannot count to {n_iterations}")
    cp = current_context().checkpoint
    prev = cp.read()
    start = int(prev.decode()) if prev else 0
    index = 0
    for index in range(start, n_iterations):
        cp.write(f"{index + 1}".encode())
    return index


@task
def steady(n: int) -> int:
    cp = current_context().checkpoint
    print("previous checkpoint:", cp.read())
    cp.write(str(n).encode())
    return n * 2


@workflow
def checkpoint_wf(n_iterations: int) -> int:
    return count_up(n_iterations=n_iterations)


@workflow
def steady_wf(n: int = 4) -> int:
    return steady(n=n)


if __name__ == "__main__":
    print(steady_wf(n=4))
    print(checkpoint_wf(n_iterations=10))
    try:
        checkpoint_wf(n_iterations=-1)
    except Exception:
        print("failed locally")
