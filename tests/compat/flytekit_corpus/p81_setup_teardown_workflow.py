"""A workflow decorator that wraps the body with setup and teardown nodes, ordered with `>>`
against the nodes the body made (ctx.compilation_state.nodes), in the style of flytesnacks'
decorating-workflows example."""

from functools import partial, wraps

import airfoil.compat.flytekit as flytekit
from airfoil.compat.flytekit import FlyteContextManager, task, workflow
from airfoil.compat.flytekit.core.node_creation import create_node

EVENTS = []


@task
def open_run():
    print("open run", flytekit.current_context().execution_id is not None)


@task
def close_run():
    print("close run")


def bracketed(fn=None, *, first, last):
    @wraps(fn)
    def wrapper(*args, **kwargs):
        ctx = FlyteContextManager.current_context()
        start = create_node(first)
        outputs = fn(*args, **kwargs)
        end = create_node(last)
        if ctx.compilation_state is not None:
            body = ctx.compilation_state.nodes
            start >> body[1]
            body[-2] >> end
        return outputs

    if fn is None:
        return partial(bracketed, first=first, last=last)
    return wrapper


@task
def scale(x: float) -> float:
    print("scale", x)
    return x * 3


@task
def shift(x: float) -> float:
    print("shift", x)
    return x + 0.5


@workflow
@bracketed(first=open_run, last=close_run)
def bracketed_wf(x: float) -> float:
    return shift(x=scale(x=x))


if __name__ == "__main__":
    print(bracketed_wf(x=2.0))
    print(FlyteContextManager.current_context().compilation_state is None)
