import os
import tempfile
import typing

import pandas as pd
from pydantic import BaseModel

from airfoil.compat.flytekit import task, workflow
from airfoil.compat.flytekit.types.directory import FlyteDirectory
from airfoil.compat.flytekit.types.file import FlyteFile


class InnerBM(BaseModel):
    a: int = -1
    b: float = 2.1
    c: str = "Hello, Flyte"
    d: bool = False


class BM(BaseModel):
    a: int = -1
    b: float = 3.14
    c: str = "Hello, Flyte"
    d: bool = False
    e: typing.List[int] = [0, 1, 2, -1, -2]
    f: typing.Dict[str, float] = {"a": 0.5, "b": -0.5}
    inner: InnerBM = InnerBM()
    g: typing.Optional[str] = None


class FilesBM(BaseModel):
    file: FlyteFile
    directory: FlyteDirectory


@task
def get_bm() -> BM:
    return BM(a=3, g="set")


@task
def use_bm(bm: BM) -> str:
    return f"{bm.a} {bm.b} {bm.e} {sorted(bm.f.items())} {bm.inner.c} {bm.g}"


@task
def make_files() -> FilesBM:
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "data.csv"), "w") as f:
        f.write("x\n1\n2\n")
    return FilesBM(file=FlyteFile(os.path.join(d, "data.csv")), directory=FlyteDirectory(d))


@task
def read_files(fb: FilesBM) -> str:
    df = pd.read_csv(fb.file)
    return f"{int(df.x.sum())} {sorted(os.listdir(fb.directory))}"


@workflow
def bm_wf() -> typing.Tuple[str, str]:
    bm = get_bm()
    return use_bm(bm=bm), read_files(fb=make_files())


if __name__ == "__main__":
    print(bm_wf())
