import os
import tempfile
import typing

import pandas as pd
from pydantic import BaseModel

from airfoil.compat.flytekit import task, workflow
from airfoil.compat.flytekit.types.file import FlyteFile


class Report(BaseModel):
    title: str
    attachment: FlyteFile
    scores: typing.List[float]


@task
def squares(n: int) -> typing.Iterator[int]:
    for i in range(n):
        yield i * i


@task
def total(xs: typing.List[int]) -> int:
    return sum(xs)


@task
def write_report(title: str) -> Report:
    path = os.path.join(tempfile.mkdtemp(), "body.txt")
    with open(path, "w") as f:
        f.write(f"body of {title}")
    return Report(title=title, attachment=FlyteFile(path), scores=[0.5, 0.25])


@task
def read_report(r: Report) -> str:
    with open(r.attachment) as f:
        body = f.read()
    return f"{r.title}: {body} ({sum(r.scores)})"


@workflow
def wf(n: int = 5) -> typing.Tuple[int, str]:
    return total(xs=squares(n=n)), read_report(r=write_report(title="q3"))


if __name__ == "__main__":
    print(wf())
    print(pd.Series(list(squares(n=3))).tolist())
