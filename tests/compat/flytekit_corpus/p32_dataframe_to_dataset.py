import pandas as pd

from airfoil.compat.flytekit import task, workflow
from airfoil.compat.flytekit.types.structured import StructuredDataset


@task
def raw(n: int) -> pd.DataFrame:
    return pd.DataFrame({"k": [i % 3 for i in range(n)], "v": list(range(n))})


@task
def grouped(sd: StructuredDataset) -> dict:
    df = sd.open(pd.DataFrame).all()
    return {str(k): int(v) for k, v in df.groupby("k")["v"].sum().items()}


@workflow
def wf(n: int) -> dict:
    return grouped(sd=raw(n=n))


if __name__ == "__main__":
    print(sorted(wf(n=10).items()))
