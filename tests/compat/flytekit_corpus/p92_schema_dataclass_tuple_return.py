"""A mashumaro dataclass holding a FlyteSchema made from a directory of Parquet files, a file
and a directory, and a workflow whose return annotation is a tuple of types (-> (A, B)), in
the style of flytesnacks' custom objects example."""

import os
import tempfile
import typing
from dataclasses import dataclass

import pandas as pd
from mashumaro.mixins.json import DataClassJSONMixin

from airfoil.compat.flytekit import task, workflow
from airfoil.compat.flytekit.types.directory import FlyteDirectory
from airfoil.compat.flytekit.types.file import FlyteFile
from airfoil.compat.flytekit.types.schema import FlyteSchema


@dataclass
class Tally(DataClassJSONMixin):
    count: int
    names: typing.Dict[int, str]


@dataclass
class Bundle(DataClassJSONMixin):
    table: FlyteSchema
    notes: FlyteFile
    folder: FlyteDirectory


@task
def tally(n: int) -> Tally:
    return Tally(count=n, names={n: f"item{n}"})


@task
def merge(a: Tally, b: Tally) -> Tally:
    names = dict(a.names)
    names.update(b.names)
    return Tally(count=a.count + b.count, names=names)


@task
def build_bundle(rows: int) -> Bundle:
    frame = pd.DataFrame({"k": list(range(rows)), "sq": [i * i for i in range(rows)]})
    table_dir = tempfile.mkdtemp(prefix="table-")
    frame.to_parquet(os.path.join(table_dir, "part0.parquet"))
    with tempfile.NamedTemporaryFile(delete=False, suffix=".txt") as notes:
        notes.write(b"rows written")
    return Bundle(
        table=FlyteSchema(table_dir), notes=FlyteFile(notes.name), folder=FlyteDirectory(table_dir)
    )


@task
def check_bundle(b: Bundle) -> str:
    frame = b.table.open().all()
    with open(b.notes) as f:
        text = f.read()
    return f"{text}: {frame['sq'].tolist()} in {sorted(os.listdir(b.folder))}"


@workflow
def bundle_wf(x: int, y: int, rows: int = 3) -> (Tally, str):
    b = build_bundle(rows=rows)
    return merge(a=tally(n=x), b=tally(n=y)), check_bundle(b=b)


if __name__ == "__main__":
    t, text = bundle_wf(x=2, y=5)
    print(t)
    print(text)
    print(Tally.from_json(t.to_json()) == t)
