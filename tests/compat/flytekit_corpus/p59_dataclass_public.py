import os
import tempfile
from dataclasses import dataclass

import pandas as pd

from airfoil.compat.flytekit import task, workflow
from airfoil.compat.flytekit.types.directory import FlyteDirectory
from airfoil.compat.flytekit.types.file import FlyteFile
from airfoil.compat.flytekit.types.structured import StructuredDataset


@dataclass
class Datum:
    x: int
    y: str
    z: dict[int, str]


@task
def stringify(s: int) -> Datum:
    return Datum(x=s, y=str(s), z={s: str(s)})


@task
def add(x: Datum, y: Datum) -> Datum:
    x.z.update(y.z)
    return Datum(x=x.x + y.x, y=x.y + y.y, z=x.z)


@dataclass
class FlyteTypes:
    dataframe: StructuredDataset
    file: FlyteFile
    directory: FlyteDirectory


@task
def upload_data() -> FlyteTypes:
    df = pd.DataFrame({"Name": ["Tom", "Joseph"], "Age": [20, 22]})
    temp_dir = tempfile.mkdtemp()
    file_path = os.path.join(temp_dir, "df.parquet")
    df.to_parquet(file_path)
    dir_path = tempfile.mkdtemp()
    for i in range(2):
        with open(os.path.join(dir_path, f"file{i}.txt"), "w") as f:
            f.write(f"content {i}")
    return FlyteTypes(
        dataframe=StructuredDataset(dataframe=df),
        file=FlyteFile(file_path),
        directory=FlyteDirectory(dir_path),
    )


@task
def download_data(res: FlyteTypes) -> str:
    df = res.dataframe.open(pd.DataFrame).all()
    f = pd.read_parquet(res.file)
    names = sorted(os.listdir(res.directory))
    return f"{df.shape} {list(f.Name)} {names}"


@workflow
def dataclass_wf(x: int, y: int) -> Datum:
    return add(x=stringify(s=x), y=stringify(s=y))


@workflow
def flyte_types_wf() -> str:
    return download_data(res=upload_data())


if __name__ == "__main__":
    print(dataclass_wf(x=10, y=20))
    print(flyte_types_wf())
