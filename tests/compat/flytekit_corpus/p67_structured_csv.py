import typing

import pandas as pd

from airfoil.compat.flytekit import kwtypes, task, workflow
from airfoil.compat.flytekit.types.structured import StructuredDataset

CSV = "csv"


@task
def load(rows: int) -> typing.Annotated[StructuredDataset, CSV]:
    frame = pd.DataFrame(
        {"player": [f"p{i}" for i in range(rows)], "score": [i * 7 % 10 for i in range(rows)]}
    )
    return StructuredDataset(dataframe=frame, file_format="csv")


@task
def best(sd: typing.Annotated[StructuredDataset, kwtypes(player=str, score=int), CSV]) -> str:
    df = sd.open(pd.DataFrame).all()
    top = df.sort_values(["score", "player"], ascending=[False, True]).head(2)
    return f"{len(df)} players, {sd.file_format}, best: {', '.join(top['player'])}"


@workflow
def wf(rows: int) -> str:
    return best(sd=load(rows=rows))


if __name__ == "__main__":
    print(wf(rows=5))
    print(wf(rows=12))
