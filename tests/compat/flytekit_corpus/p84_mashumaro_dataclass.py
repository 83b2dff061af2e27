"""Dataclasses with mashumaro's DataClassJSONMixin (flytekit's documented idiom) holding plain
fields, a dict with int keys, and a file, a directory and a dataset."""

import os
import tempfile
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import pandas as pd
from mashumaro.mixins.json import DataClassJSONMixin

from airfoil.compat.flytekit import task, workflow
from airfoil.compat.flytekit.types.directory import FlyteDirectory
from airfoil.compat.flytekit.types.file import FlyteFile
from airfoil.compat.flytekit.types.structured import StructuredDataset


@dataclass
class Reading(DataClassJSONMixin):
    station: int
    label: str
    values: Dict[int, str]


@dataclass
class Artifacts(DataClassJSONMixin):
    report: FlyteFile
    images: FlyteDirectory
    table: StructuredDataset
    note: Optional[str] = None
    readings: List[Reading] = field(default_factory=list)


@task
def read_station(n: int) -> Reading:
    return Reading(station=n, label=f"s{n}", values={n: str(n * n)})


@task
def combine(a: Reading, b: Reading) -> Reading:
    values = dict(a.values)
    values.update(b.values)
    return Reading(station=a.station + b.station, label=a.label + b.label, values=values)


@task
def package(r: Reading) -> Artifacts:
    work = tempfile.mkdtemp()
    report = os.path.join(work, "report.txt")
    with open(report, "w") as f:
        f.write(f"station {r.station}")
    images = os.path.join(work, "images")
    os.makedirs(images)
    for i in range(2):
        with open(os.path.join(images, f"img{i}.txt"), "w") as f:
            f.write(str(i))
    frame = pd.DataFrame({"key": list(r.values), "value": list(r.values.values())})
    return Artifacts(
        report=FlyteFile(report),
        images=FlyteDirectory(images),
        table=StructuredDataset(dataframe=frame),
        readings=[r],
    )


@task
def summarize(a: Artifacts) -> str:
    with open(a.report) as f:
        text = f.read()
    names = sorted(os.listdir(a.images))
    frame = a.table.open(pd.DataFrame).all()
    return f"{text}; {names}; rows={len(frame)}; note={a.note}; first={a.readings[0].label}"


@workflow
def stations_wf(x: int = 2, y: int = 3) -> str:
    merged = combine(a=read_station(n=x), b=read_station(n=y))
    return summarize(a=package(r=merged))


if __name__ == "__main__":
    print(stations_wf(x=2, y=3))
    r = combine(a=Reading(1, "a", {1: "x"}), b=Reading(2, "b", {2: "y"}))
    print(r)
    print(Reading.from_json(r.to_json()) == r)
