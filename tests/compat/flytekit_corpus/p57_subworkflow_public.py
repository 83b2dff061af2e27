import typing

from airfoil.compat.flytekit import task, workflow

op = typing.NamedTuple("OutputsBC", [("t1_int_output", int), ("c", str)])


@task
def t1(a: int) -> op:
    return op(a + 2, "world")


@workflow
def my_subwf(a: int = 42) -> typing.Tuple[str, str]:
    x, y = t1(a=a)
    u, v = t1(a=x)
    return y, v


@workflow
def parent_wf(a: int) -> typing.Tuple[int, str, str]:
    x, y = t1(a=a).with_overrides(node_name="node-t1-parent")
    u, v = my_subwf(a=x)
    return x, u, v


@workflow
def nested_parent_wf(a: int) -> typing.Tuple[int, str, str, str]:
    x, y = my_subwf(a=a)
    m, n, o = parent_wf(a=a)
    return m, n, o, y


if __name__ == "__main__":
    print(f"Running parent_wf(a=3) {parent_wf(a=3)}")
    print(f"Running nested_parent_wf(a=3) {nested_parent_wf(a=3)}")
