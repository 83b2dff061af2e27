import random

from airfoil.compat.flytekit import conditional, task, workflow


@task
def calculate_circle_circumference(radius: float) -> float:
    return 2 * 3.14 * radius


@task
def calculate_circle_area(radius: float) -> float:
    return 3.14 * radius * radius


@workflow
def shape_properties(radius: float) -> float:
    return (
        conditional("shape_properties")
        .if_((radius >= 0.1) & (radius < 1.0))
        .then(calculate_circle_circumference(radius=radius))
        .else_()
        .then(calculate_circle_area(radius=radius))
    )


@workflow
def shape_properties_with_multiple_branches(radius: float) -> float:
    return (
        conditional("shape_properties_with_multiple_branches")
        .if_((radius >= 0.1) & (radius < 1.0))
        .then(calculate_circle_circumference(radius=radius))
        .elif_((radius >= 1.0) & (radius <= 10.0))
        .then(calculate_circle_area(radius=radius))
        .else_()
        .fail("The input must be within the range of 0 to 10.")
    )


@task
def square(n: float) -> float:
    return n * n


@task
def double(n: float) -> float:
    return 2 * n


@workflow
def shape_properties_accept_conditional_output(radius: float) -> float:
    result = (
        conditional("shape_properties_accept_conditional_output")
        .if_((radius >= 0.1) & (radius < 1.0))
        .then(calculate_circle_circumference(radius=radius))
        .elif_((radius >= 1.0) & (radius <= 10.0))
        .then(calculate_circle_area(radius=radius))
        .else_()
        .fail("The input must exist between 0 and 10.")
    )
    return calculate_circle_area(radius=result)


@task
def coin_toss(seed: int) -> bool:
    r = random.Random(seed)
    if r.random() < 0.5:  # noqa: SIM103 - as the public example writes it
        return True
    return False


@task
def failed() -> int:
    return -1


@task
def success() -> int:
    return 0


@workflow
def boolean_wf(seed: int = 5) -> int:
    result = coin_toss(seed=seed)
    return conditional("coin_toss").if_(result.is_true()).then(success()).else_().then(failed())


@workflow
def boolean_input_wf(boolean_input: bool) -> int:
    return (
        conditional("boolean_input_conditional")
        .if_(boolean_input.is_true())
        .then(success())
        .else_()
        .then(failed())
    )


@task
def sum_diff(a: float, b: float) -> float:
    return a + abs(a - b)


@workflow
def nested_conditions(radius: float) -> float:
    return (
        conditional("nested_conditions")
        .if_((radius >= 0.1) & (radius < 1.0))
        .then(
            conditional("inner_nested_conditions")
            .if_(radius < 0.5)
            .then(calculate_circle_circumference(radius=radius))
            .elif_((radius >= 0.5) & (radius < 0.9))
            .then(calculate_circle_area(radius=radius))
            .else_()
            .fail("0.9 is an outlier.")
        )
        .elif_((radius >= 1.0) & (radius <= 10.0))
        .then(calculate_circle_area(radius=radius))
        .else_()
        .fail("The input must be within the range of 0 to 10.")
    )


@task
def noop() -> None: ...


@workflow
def noop_in_conditional(radius: float, seed: int = 5) -> None:
    result = coin_toss(seed=seed)
    conditional("noop_in_conditional").if_(result.is_true()).then(
        calculate_circle_circumference(radius=radius)
    ).else_().then(noop())


if __name__ == "__main__":
    print(f"a: {shape_properties(radius=0.5)}")
    print(f"b: {shape_properties(radius=5.0)}")
    print(f"c: {shape_properties_with_multiple_branches(radius=5.0)}")
    print(f"d: {shape_properties_accept_conditional_output(radius=0.5)}")
    print(f"e: {boolean_wf(seed=5)} {boolean_wf(seed=3)}")
    print(f"f: {boolean_input_wf(boolean_input=True)} {boolean_input_wf(boolean_input=False)}")
    print(f"g: {nested_conditions(radius=0.7)}")
    print(f"h: {noop_in_conditional(radius=0.4)}")
    try:
        shape_properties_with_multiple_branches(radius=11.0)
    except Exception:
        print("failed as expected")
