import typing

import pandas as pd

from airfoil.compat.flytekit import kwtypes, task, workflow
from airfoil.compat.flytekit.types.structured import StructuredDataset

Subset = typing.Annotated[StructuredDataset, kwtypes(name=str, score=float)]


@task
def make() -> StructuredDataset:
    df = pd.DataFrame({"name": ["a", "b", "c"], "score": [1.5, 2.5, 4.0], "extra": [1, 2, 3]})
    return StructuredDataset(dataframe=df)


@task
def columns(sd: Subset) -> typing.List[str]:
    return list(sd.open(pd.DataFrame).all().columns)


@task
def mean_score(sd: StructuredDataset) -> float:
    return float(sd.open(pd.DataFrame).all()["score"].mean())


@workflow
def wf() -> typing.Tuple[typing.List[str], float]:
    sd = make()
    return columns(sd=sd), mean_score(sd=sd)


if __name__ == "__main__":
    print(wf())
