# ruff: noqa: B006 - mutable defaults, as the public examples write them
import functools

from airfoil.compat.flytekit import map_task, task, workflow

threshold = 11


@task
def detect_anomalies(data_point: int) -> bool:
    return data_point > threshold


@workflow
def map_workflow(data: list[int] = [10, 12, 11, 10, 13, 12, 100, 11, 12, 10]) -> list[bool]:
    return map_task(detect_anomalies)(data_point=data)


@task
def multi_input_task(quantity: int, price: float, shipping: float) -> float:
    return quantity * price * shipping


@workflow
def multiple_inputs_map_workflow(
    list_q: list[int] = [1, 2, 3, 4, 5], p: float = 6.0, s: float = 7.0
) -> list[float]:
    partial_task = functools.partial(multi_input_task, price=p, shipping=s)
    return map_task(partial_task)(quantity=list_q)


@task
def some_task(a: int) -> int:
    if a == 1:
        raise ValueError("Value is 1")
    return a


@workflow
def map_with_tolerance(a: list[int] = [0, 1, 2]) -> list[int | None]:
    return map_task(some_task, min_success_ratio=0.6)(a=a)


if __name__ == "__main__":
    print(map_workflow())
    print(multiple_inputs_map_workflow())
    print(map_with_tolerance())
