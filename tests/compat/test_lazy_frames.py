"""Frames read lazily: ``sd.open(T).iter(rows)`` walks a stored frame in chunks sliced from the
memory-mapped Arrow IPC value (never the whole frame at once), and a StructuredDataset can
be a local CSV (``file_format="csv"``) or Parquet file."""

from __future__ import annotations

import typing
from pathlib import Path

import pandas as pd
import pyarrow as pa

from airfoil.compat.flytekit import kwtypes, task, workflow
from airfoil.compat.flytekit.types.structured import StructuredDataset

ROWS = 200_000


@task
def big() -> StructuredDataset:
    return StructuredDataset(
        dataframe=pd.DataFrame({"i": range(ROWS), "sq": [x * x for x in range(ROWS)]})
    )


@task
def chunk_sizes(sd: StructuredDataset, rows: int) -> list[int]:
    return [len(c) for c in sd.open(pd.DataFrame).iter(rows)]


@task
def chunk_total(sd: typing.Annotated[StructuredDataset, kwtypes(sq=int)]) -> int:
    total = 0
    for chunk in sd.open(pa.Table).iter(50_000):
        assert chunk.column_names == ["sq"]
        total += pa.compute.sum(chunk["sq"]).as_py()
    return total


@workflow
def sizes(rows: int) -> list[int]:
    return chunk_sizes(sd=big(), rows=rows)


@workflow
def total() -> int:
    return chunk_total(sd=big())


def test_iter_yields_chunks_of_the_stored_frame() -> None:
    assert sizes(rows=64_000) == [64_000, 64_000, 64_000, 8_000]
    assert total() == sum(x * x for x in range(ROWS))


@task
def from_csv(path: str) -> StructuredDataset:
    return StructuredDataset(uri=path, file_format="csv")


@task
def from_parquet(path: str) -> StructuredDataset:
    return StructuredDataset(uri=f"file://{path}")


@task
def heights(sd: typing.Annotated[StructuredDataset, kwtypes(height=int)]) -> list[int]:
    return [int(h) for chunk in sd.open(pd.DataFrame).iter(2) for h in chunk["height"]]


@workflow
def csv_flow(path: str) -> list[int]:
    return heights(sd=from_csv(path=path))


@workflow
def parquet_flow(path: str) -> list[int]:
    return heights(sd=from_parquet(path=path))


def test_a_local_csv_or_parquet_file_is_a_dataset(tmp_path: Path) -> None:
    frame = pd.DataFrame({"name": ["a", "b", "c"], "height": [150, 160, 170]})
    csv = tmp_path / "people.txt"  # no .csv suffix: file_format says how to read it
    frame.to_csv(csv, index=False)
    parquet = tmp_path / "people.parquet"
    frame.to_parquet(parquet)
    assert csv_flow(path=str(csv)) == [150, 160, 170]
    assert parquet_flow(path=str(parquet)) == [150, 160, 170]
    sd = StructuredDataset(uri=str(csv), file_format="csv")
    assert sd.file_format == "csv"
    assert sd.open(pa.Table).all().column_names == ["name", "height"]
    assert [len(c) for c in StructuredDataset(dataframe=frame).iter(2)] == [2, 1]
