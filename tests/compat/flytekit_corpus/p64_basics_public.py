import functools
import typing

from airfoil.compat.flytekit import LaunchPlan, task, workflow


@task
def say_hello() -> str:
    return "Hello, World!"


@workflow
def hello_world_wf() -> str:
    res = say_hello()
    return res


@task
def slope(x: list[int], y: list[int]) -> float:
    sum_xy = sum([x[i] * y[i] for i in range(len(x))])
    sum_x_squared = sum([x[i] ** 2 for i in range(len(x))])
    n = len(x)
    return (n * sum_xy - sum(x) * sum(y)) / (n * sum_x_squared - sum(x) ** 2)


@task
def intercept(x: list[int], y: list[int], slope: float) -> float:
    mean_x = sum(x) / len(x)
    mean_y = sum(y) / len(y)
    intercept = mean_y - slope * mean_x
    return intercept


@workflow
def simple_wf(x: list[int], y: list[int]) -> float:
    slope_value = slope(x=x, y=y)
    intercept_value = intercept(x=x, y=y, slope=slope_value)
    return intercept_value


@workflow
def simple_wf_with_partial(x: list[int], y: list[int]) -> float:
    partial_task = functools.partial(slope, x=x)
    return partial_task(y=y)


@workflow
def optional_wf(name: typing.Optional[str] = None) -> str:
    return say_hello()


simple_wf_lp = LaunchPlan.get_or_create(
    workflow=simple_wf, name="simple_wf_lp", default_inputs={"x": [-3, 0, 3], "y": [7, 4, -2]}
)
simple_wf_lp_fixed_inputs = LaunchPlan.get_or_create(
    name="fixed_inputs",
    workflow=simple_wf,
    default_inputs={"x": [-3, 0, 3]},
    fixed_inputs={"y": [7, 4, -2]},
)


if __name__ == "__main__":
    print(f"Running hello_world_wf() {hello_world_wf()}")
    print(f"Running simple_wf() {simple_wf(x=[-3, 0, 3], y=[7, 4, -2])}")
    print(f"Running simple_wf_with_partial() {simple_wf_with_partial(x=[-3, 0, 3], y=[7, 4, -2])}")
    print(optional_wf())
    print(simple_wf_lp())
    print(simple_wf_lp(x=[3, 4, 5]))
    print(simple_wf_lp_fixed_inputs())
