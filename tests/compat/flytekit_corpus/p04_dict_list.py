from airfoil.compat.flytekit import task, workflow


@task
def make_config(n: int) -> dict:
    return {"n": n, "names": [f"item{i}" for i in range(n)]}


@task
def count_names(config: dict) -> list[str]:
    return sorted(config["names"], reverse=True)


@workflow
def wf(n: int) -> list[str]:
    return count_names(config=make_config(n=n))


if __name__ == "__main__":
    print(wf(n=3))
