from airfoil.compat.flytekit import dynamic, task, workflow


@task
def fib_step(a: int, b: int) -> int:
    return a + b


@dynamic
def fib(n: int) -> list[int]:
    out = []
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
        out.append(fib_step(a=0, b=a))
    return out


@workflow
def wf(n: int) -> list[int]:
    return fib(n=n)


if __name__ == "__main__":
    print(wf(n=7))
