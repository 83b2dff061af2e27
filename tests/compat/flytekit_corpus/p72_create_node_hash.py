import pandas as pd
from typing_extensions import Annotated

from airfoil.compat.flytekit import HashMethod, task, workflow
from airfoil.compat.flytekit.core.node_creation import create_node


def frame_hash(df: pd.DataFrame) -> str:
    return str(pd.util.hash_pandas_object(df).sum())


@task
def load(n: int) -> Annotated[pd.DataFrame, HashMethod(frame_hash)]:
    return pd.DataFrame({"v": list(range(n))})


@task(cache=True, cache_version="1.0")
def doubled(df: pd.DataFrame) -> pd.DataFrame:
    return df * 2


@task
def same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    return a.equals(b)


@task
def total(df: pd.DataFrame) -> int:
    return int(df["v"].sum())


@workflow
def wf(n: int) -> tuple[bool, int]:
    raw = load(n=n)
    first = create_node(doubled, df=raw)
    second = create_node(doubled, df=raw)
    first >> second
    return same(a=first.o0, b=second.o0), total(df=second.o0)


if __name__ == "__main__":
    print(wf(n=5))
