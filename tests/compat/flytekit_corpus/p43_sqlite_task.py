import os
import sqlite3
import tempfile

import pandas as pd

from airfoil.compat.flytekit import kwtypes, task, workflow
from airfoil.compat.flytekit.extras.sqlite3.task import SQLite3Config, SQLite3Task
from airfoil.compat.flytekit.types.structured import StructuredDataset

DB = os.path.join(tempfile.gettempdir(), "p43-tracks.db")
with sqlite3.connect(DB) as con:
    con.execute("DROP TABLE IF EXISTS tracks")
    con.execute("CREATE TABLE tracks (name TEXT, seconds INTEGER)")
    con.executemany(
        "INSERT INTO tracks VALUES (?, ?)",
        [("intro", 61), ("theme", 240), ("bridge", 95), ("finale", 330)],
    )

longest = SQLite3Task(
    name="longest_tracks",
    query_template=(
        "SELECT name, seconds FROM tracks WHERE seconds > {{ .inputs.min_s }} "
        "ORDER BY seconds DESC LIMIT {{.inputs.limit}}"
    ),
    inputs=kwtypes(min_s=int, limit=int),
    output_schema_type=StructuredDataset,
    task_config=SQLite3Config(uri=DB),
)


@task
def names(sd: StructuredDataset) -> str:
    return ",".join(sd.open(pd.DataFrame).all()["name"])


@workflow
def wf(min_s: int, limit: int) -> str:
    return names(sd=longest(min_s=min_s, limit=limit))


if __name__ == "__main__":
    print(wf(min_s=90, limit=2))
    print(wf(min_s=0, limit=10))
