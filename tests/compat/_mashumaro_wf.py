"""flytekit's dataclass idiom (mashumaro's ``DataClassJSONMixin``) with file, directory and
dataset fields: imported by test_flytekit_local_runs only where mashumaro is installed."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pandas as pd
from mashumaro.mixins.json import DataClassJSONMixin

from airfoil.compat.flytekit import task, workflow
from airfoil.compat.flytekit.types.directory import FlyteDirectory
from airfoil.compat.flytekit.types.file import FlyteFile
from airfoil.compat.flytekit.types.structured import StructuredDataset


@dataclass
class Datum(DataClassJSONMixin):
    x: int
    z: dict[int, str]


@dataclass
class Bundle(DataClassJSONMixin):
    f: FlyteFile
    d: FlyteDirectory
    sd: StructuredDataset
    items: list[Datum] = field(default_factory=list)


@task
def make(n: int, where: str) -> Bundle:
    frame = pd.DataFrame({"a": list(range(n))})
    return Bundle(
        f=FlyteFile(os.path.join(where, "f.txt")),
        d=FlyteDirectory(os.path.join(where, "d")),
        sd=StructuredDataset(dataframe=frame),
        items=[Datum(x=n, z={n: str(n)})],
    )


@task
def read(b: Bundle) -> str:
    with open(b.f) as fh:
        text = fh.read()
    rows = len(b.sd.open(pd.DataFrame).all())
    return f"{text} {sorted(os.listdir(b.d))} {rows} {b.items[0].z}"


@workflow
def bundle_wf(n: int, where: str) -> str:
    return read(b=make(n=n, where=where))
