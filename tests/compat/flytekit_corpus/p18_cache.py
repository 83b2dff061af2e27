import typing

import pandas as pd

from airfoil.compat.flytekit import HashMethod, task, workflow


def hash_frame(df: pd.DataFrame) -> str:
    return str(pd.util.hash_pandas_object(df).sum())


@task
def frame(n: int) -> typing.Annotated[pd.DataFrame, HashMethod(hash_frame)]:
    return pd.DataFrame({"v": list(range(n))})


@task(cache=True, cache_version="1.0")
def expensive(df: pd.DataFrame) -> int:
    return int(df["v"].sum()) * 100


@workflow
def wf(n: int) -> int:
    return expensive(df=frame(n=n))


if __name__ == "__main__":
    print(wf(n=4))
    print(wf(n=4))
