"""flytesnacks' numpy idiom: a StructuredDatasetEncoder / Decoder for np.ndarray. Run as a
script by test_structured_handlers (registering an ndarray handler makes every ndarray
annotation of the process a dataset, as in flytekit: kept out of the test process)."""

import os
import typing
from typing import Annotated

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from airfoil.compat.flytekit import FlyteContext, StructuredDatasetType, task, workflow
from airfoil.compat.flytekit.models import literals
from airfoil.compat.flytekit.models.literals import StructuredDatasetMetadata
from airfoil.compat.flytekit.types.structured import register_csv_handlers
from airfoil.compat.flytekit.types.structured.structured_dataset import (
    CSV,
    PARQUET,
    StructuredDataset,
    StructuredDatasetDecoder,
    StructuredDatasetEncoder,
    StructuredDatasetTransformerEngine,
)


class ArrayWriter(StructuredDatasetEncoder):
    def encode(
        self,
        ctx: FlyteContext,
        structured_dataset: StructuredDataset,
        structured_dataset_type: StructuredDatasetType,
    ) -> literals.StructuredDataset:
        arr = typing.cast(np.ndarray, structured_dataset.dataframe)
        cols = [f"c{i}" for i in range(arr.shape[1])]
        table = pa.Table.from_arrays([arr[:, i] for i in range(arr.shape[1])], cols)
        remote = ctx.file_access.get_random_remote_directory()
        local = ctx.file_access.get_random_local_directory()
        pq.write_table(table, os.path.join(local, "00000"))
        ctx.file_access.upload_directory(local, remote)
        return literals.StructuredDataset(
            uri=remote,
            metadata=StructuredDatasetMetadata(
                structured_dataset_type=StructuredDatasetType(format=PARQUET)
            ),
        )


class ArrayReader(StructuredDatasetDecoder):
    def decode(
        self,
        ctx: FlyteContext,
        flyte_value: literals.StructuredDataset,
        current_task_metadata: StructuredDatasetMetadata,
    ) -> np.ndarray:
        local = ctx.file_access.get_random_local_directory()
        ctx.file_access.get_data(flyte_value.uri, local, is_multipart=True)
        return pq.read_table(local).to_pandas().to_numpy()


StructuredDatasetTransformerEngine.register(ArrayWriter(np.ndarray, None, PARQUET))
StructuredDatasetTransformerEngine.register(ArrayReader(np.ndarray, None, PARQUET))
register_csv_handlers()


@task
def scores() -> pd.DataFrame:
    return pd.DataFrame({"a": [1, 2, 3], "b": [10, 20, 30]})


@task
def doubled(sd: StructuredDataset) -> Annotated[StructuredDataset, PARQUET]:
    arr = sd.open(np.ndarray).all()
    print("decoded", type(arr).__name__, arr.shape)
    return StructuredDataset(dataframe=arr * 2)


@task
def total(sd: StructuredDataset) -> int:
    return int(sd.open(pd.DataFrame).all().sum().sum())


@task
def as_csv(df: pd.DataFrame) -> Annotated[StructuredDataset, CSV]:
    return StructuredDataset(dataframe=df)


@workflow
def array_wf() -> Annotated[StructuredDataset, PARQUET]:
    return doubled(sd=scores())


@workflow
def total_wf() -> int:
    return total(sd=doubled(sd=scores()))


@workflow
def csv_wf() -> Annotated[StructuredDataset, CSV]:
    return as_csv(df=scores())


if __name__ == "__main__":
    print(array_wf().open(np.ndarray).all().tolist())
    print(total_wf())
    print(csv_wf().open(pd.DataFrame).all().to_dict("list"))
