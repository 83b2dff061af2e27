import asyncio

from airfoil.compat.flytekit import eager, task, workflow
from airfoil.compat.flytekit.exceptions.eager import EagerException


@task
def inc(n: int) -> int:
    return n + 1


@task
def triple(n: int) -> int:
    return 3 * n


@task
def must_be_positive(n: int) -> int:
    if n <= 0:
        raise ValueError(f"{n} is not positive")
    return n


@workflow
def inc_then_triple(n: int) -> int:
    return triple(n=inc(n=n))


@eager
async def inner(n: int) -> int:
    return inc(n=n)


@eager
async def pipeline(n: int) -> int:
    first = inc(n=n)
    if first > 10:
        return -1
    fanned = await asyncio.gather(*[inner(n=i) for i in range(first)])
    via_wf = inc_then_triple(n=first)
    nested = await inner(n=via_wf)
    return sum(fanned) + nested


@eager
async def guarded(n: int) -> int:
    try:
        return must_be_positive(n=n)
    except EagerException:
        return 0
    except ValueError:
        return -100


if __name__ == "__main__":
    print(asyncio.run(pipeline(n=3)))
    print(asyncio.run(pipeline(n=12)))
    print(asyncio.run(guarded(n=5)))
    print(asyncio.run(guarded(n=-2)))
