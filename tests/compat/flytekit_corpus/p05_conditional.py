from airfoil.compat.flytekit import conditional, task, workflow


@task
def square(n: float) -> float:
    return n * n


@task
def double(n: float) -> float:
    return 2 * n


@workflow
def shape(n: float) -> float:
    return (
        conditional("fractions")
        .if_((n >= 0.1) & (n < 1.0))
        .then(double(n=n))
        .elif_((n >= 1.0) & (n < 10.0))
        .then(square(n=n))
        .else_()
        .fail("The input must be between 0 and 10")
    )


if __name__ == "__main__":
    print(shape(n=0.5))
    print(shape(n=3.0))
    try:
        shape(n=42.0)
    except Exception:
        print("failed as expected")
