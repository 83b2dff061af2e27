import asyncio

from airfoil.compat.flytekit import eager, task


@task
def add_one(x: int) -> int:
    return x + 1


@task
def double(x: int) -> int:
    return 2 * x


@eager
async def eager_wf(x: int) -> int:
    a = add_one(x=x)
    if a > 3:
        return double(x=a)
    total = 0
    for i in range(a):
        total += add_one(x=i)
    return total


if __name__ == "__main__":
    print(asyncio.run(eager_wf(x=5)))
    print(asyncio.run(eager_wf(x=1)))
