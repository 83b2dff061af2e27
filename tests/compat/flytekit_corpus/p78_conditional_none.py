import typing

from airfoil.compat.flytekit import conditional, task, workflow


@task
def maybe_half(x: int) -> typing.Optional[int]:
    return x // 2 if x % 2 == 0 else None


@task
def describe(x: typing.Optional[int]) -> str:
    return f"half is {x}"


@task
def odd() -> str:
    return "odd"


@workflow
def wf(x: int) -> str:
    h = maybe_half(x=x)
    return conditional("halving").if_(h.is_none()).then(odd()).else_().then(describe(x=h))


@workflow
def ranges(x: int) -> str:
    return (
        conditional("ranges")
        .if_((x > 0) & (x < 10))
        .then(describe(x=x))
        .elif_((x >= 10) | (x < -100))
        .then(odd())
        .else_()
        .fail("x is out of range")
    )


if __name__ == "__main__":
    print(wf(x=8))
    print(wf(x=7))
    print(ranges(x=3))
    print(ranges(x=50))
    try:
        ranges(x=-5)
    except Exception:
        print("failed")
