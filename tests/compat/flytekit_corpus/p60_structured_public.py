import typing

import pandas as pd
import pyarrow as pa

from airfoil.compat.flytekit import kwtypes, task, workflow
from airfoil.compat.flytekit.types.structured import StructuredDataset

all_cols = kwtypes(Name=str, Age=int, Height=int)
col = kwtypes(Age=int)


@task
def generate_pandas_df(a: int) -> pd.DataFrame:
    return pd.DataFrame({"Name": ["Tom", "Joseph"], "Age": [a, 22], "Height": [160, 178]})


@task
def get_subset_pandas_df(
    df: typing.Annotated[pd.DataFrame, all_cols],
) -> typing.Annotated[pd.DataFrame, col]:
    df = pd.concat([df, pd.DataFrame([[30]], columns=["Age"])])
    return df


@task
def get_subset_df(
    df: typing.Annotated[StructuredDataset, col],
) -> typing.Annotated[StructuredDataset, col]:
    df = df.open(pd.DataFrame).all()
    df = pd.concat([df, pd.DataFrame([[30]], columns=["Age"])])
    return StructuredDataset(dataframe=df)


@task
def to_arrow(ds: StructuredDataset) -> pa.Table:
    return ds.open(pa.Table).all()


@task
def describe(t: pa.Table) -> str:
    return f"{t.num_rows} rows, columns {t.column_names}, ages {t.column('Age').to_pylist()}"


@workflow
def simple_sd_wf(a: int = 19) -> str:
    pandas_df = generate_pandas_df(a=a)
    subset = get_subset_df(df=pandas_df)
    return describe(t=to_arrow(ds=subset))


@workflow
def pandas_subset_wf(a: int = 19) -> pd.DataFrame:
    return get_subset_pandas_df(df=generate_pandas_df(a=a))


if __name__ == "__main__":
    print(simple_sd_wf())
    print(pandas_subset_wf().to_dict(orient="list"))
