from airfoil.compat.flytekit import conditional, task, workflow


@task
def is_even(n: int) -> bool:
    return n % 2 == 0


@task
def halve(n: int) -> int:
    return n // 2


@task
def triple_plus_one(n: int) -> int:
    return 3 * n + 1


@workflow
def collatz_step(n: int) -> int:
    even = is_even(n=n)
    return (
        conditional("collatz")
        .if_(even.is_true())
        .then(halve(n=n))
        .else_()
        .then(triple_plus_one(n=n))
    )


if __name__ == "__main__":
    print([collatz_step(n=n) for n in (6, 7, 16)])
