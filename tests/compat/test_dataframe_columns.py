"""Column subsets on write (flytekit's ``Annotated[frame, kwtypes(...)]`` outputs): only the
declared columns are stored, for pandas / arrow frames and StructuredDataset alike."""

from __future__ import annotations

import typing

import pandas as pd
import pyarrow as pa
import pytest

from airfoil.compat.flytekit import kwtypes, task, workflow
from airfoil.compat.flytekit.types.structured import StructuredDataset
from airfoil.core.errors import ExecutionFailedError

AGE = kwtypes(Age=int)


@task
def people() -> pd.DataFrame:
    frame = pd.DataFrame({"Name": ["Tom", "Jo"], "Age": [20, 22], "Height": [160, 178]})
    return pd.concat([frame, frame])  # an index of 0, 1, 0, 1


@task
def ages(df: pd.DataFrame) -> typing.Annotated[pd.DataFrame, AGE]:
    return df


@task
def ages_dataset(df: pd.DataFrame) -> typing.Annotated[StructuredDataset, AGE]:
    return StructuredDataset(dataframe=df)


@task
def as_arrow(ds: StructuredDataset) -> pa.Table:
    return ds.open(pa.Table).all()


@task
def names(df: pd.DataFrame) -> typing.Annotated[pd.DataFrame, kwtypes(Nickname=str)]:
    return df


@workflow
def subset() -> pd.DataFrame:
    return ages(df=people())


@workflow
def subset_arrow() -> pa.Table:
    return as_arrow(ds=ages_dataset(df=people()))


@workflow
def missing() -> pd.DataFrame:
    return names(df=people())


def test_only_the_declared_columns_are_stored() -> None:
    assert subset().to_dict(orient="list") == {"Age": [20, 22, 20, 22]}
    table = subset_arrow()
    assert table.column_names == ["Age"]  # no pandas index column either
    assert table.column("Age").to_pylist() == [20, 22, 20, 22]


@task
def as_pandas(ds: StructuredDataset) -> pd.DataFrame:
    return ds.open(pd.DataFrame).all()


@workflow
def subset_pandas() -> pd.DataFrame:
    return as_pandas(ds=ages_dataset(df=people()))


@workflow
def whole_arrow() -> pa.Table:
    return as_arrow(ds=people())


def test_a_subset_keeps_the_pandas_index_as_flytekit_does() -> None:
    # flytekit's Parquet keeps the index: read as pandas it comes back (flytesnacks'
    # structured dataset example prints it); read as arrow, only the declared columns
    assert subset().index.tolist() == [0, 1, 0, 1]
    assert subset_pandas().index.tolist() == [0, 1, 0, 1]
    assert subset_arrow().column_names == ["Age"]
    assert whole_arrow().column_names == ["Name", "Age", "Height", "__index_level_0__"]


def test_a_missing_declared_column_fails_the_task() -> None:
    with pytest.raises(ExecutionFailedError, match=r"no column\(s\) \['Nickname'\]"):
        missing()
