import logging
from functools import partial, wraps

from airfoil.compat.flytekit import task, workflow

logger = logging.getLogger(__file__)


def log_io(task_fn):
    @wraps(task_fn)
    def wrapper(*args, **kwargs):
        print(f"task {task_fn.__name__} called with args: {args}, kwargs: {kwargs}")
        out = task_fn(*args, **kwargs)
        print(f"task {task_fn.__name__} output: {out}")
        return out

    return wrapper


def validate_output(task_fn=None, *, floor=0):
    if task_fn is None:
        return partial(validate_output, floor=floor)

    @wraps(task_fn)
    def wrapper(*args, **kwargs):
        out = task_fn(*args, **kwargs)
        if out <= floor:
            raise ValueError(
                f"output of task {task_fn.__name__} must be a positive number, found {out}"
            )
        return out

    return wrapper


@task
@log_io
def t1(x: int) -> int:
    return x + 1


@task
@validate_output(floor=10)
@log_io
def t2(x: int) -> int:
    return x + 10


@workflow
def decorating_task_wf(x: int) -> int:
    return t2(x=t1(x=x))


if __name__ == "__main__":
    print(f"Running decorating_task_wf(x=10) {decorating_task_wf(x=10)}")
