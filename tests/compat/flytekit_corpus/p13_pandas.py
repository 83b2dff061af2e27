import pandas as pd

from airfoil.compat.flytekit import task, workflow


@task
def load(n: int) -> pd.DataFrame:
    return pd.DataFrame({"x": list(range(n)), "y": [i * 2 for i in range(n)]})


@task
def summarize(df: pd.DataFrame) -> int:
    return int(df["y"].sum())


@workflow
def wf(n: int) -> int:
    return summarize(df=load(n=n))


if __name__ == "__main__":
    print(wf(n=5))
