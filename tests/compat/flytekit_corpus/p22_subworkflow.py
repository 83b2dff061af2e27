from airfoil.compat.flytekit import task, workflow


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def mul(a: int, b: int) -> int:
    return a * b


@workflow
def affine(x: int, m: int, c: int) -> int:
    return add(a=mul(a=x, b=m), b=c)


@workflow
def outer(x: int) -> int:
    y = affine(x=x, m=2, c=1)
    return affine(x=y, m=3, c=-4)


if __name__ == "__main__":
    print(outer(x=5))
