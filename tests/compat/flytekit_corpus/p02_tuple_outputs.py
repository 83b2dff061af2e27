from airfoil.compat.flytekit import task, workflow


@task
def divmod_task(a: int, b: int) -> tuple[int, int]:
    return a // b, a % b


@task
def describe(q: int, r: int) -> str:
    return f"q={q} r={r}"


@workflow
def wf(a: int, b: int) -> tuple[str, int]:
    q, r = divmod_task(a=a, b=b)
    return describe(q=q, r=r), r


if __name__ == "__main__":
    print(divmod_task(a=17, b=5))
    print(wf(a=17, b=5))
