"""A dataframe class of one's own as a dataset type: a StructuredDatasetEncoder and Decoder
registered with StructuredDatasetTransformerEngine (flytesnacks' structured dataset idiom)."""

import os
import typing

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from typing_extensions import Annotated

from airfoil.compat.flytekit import FlyteContext, StructuredDatasetType, kwtypes, task, workflow
from airfoil.compat.flytekit.models import literals
from airfoil.compat.flytekit.models.literals import StructuredDatasetMetadata
from airfoil.compat.flytekit.types.structured.structured_dataset import (
    CSV,
    PARQUET,
    StructuredDataset,
    StructuredDatasetDecoder,
    StructuredDatasetEncoder,
    StructuredDatasetTransformerEngine,
)


class Ledger:
    """Rows of (account, amount): a frame class no library knows."""

    def __init__(self, rows: typing.List[typing.Tuple[str, int]]):
        self.rows = rows

    def total(self) -> int:
        return sum(amount for _, amount in self.rows)


class LedgerWriter(StructuredDatasetEncoder):
    def encode(
        self,
        ctx: FlyteContext,
        structured_dataset: StructuredDataset,
        structured_dataset_type: StructuredDatasetType,
    ) -> literals.StructuredDataset:
        ledger = typing.cast(Ledger, structured_dataset.dataframe)
        table = pa.table(
            {
                "account": [a for a, _ in ledger.rows],
                "amount": [n for _, n in ledger.rows],
            }
        )
        remote = ctx.file_access.get_random_remote_directory()
        local = ctx.file_access.get_random_local_directory()
        pq.write_table(table, os.path.join(local, f"{0:05}"))
        ctx.file_access.upload_directory(local, remote)
        return literals.StructuredDataset(
            uri=remote,
            metadata=StructuredDatasetMetadata(
                structured_dataset_type=StructuredDatasetType(format=PARQUET)
            ),
        )


class LedgerReader(StructuredDatasetDecoder):
    def decode(
        self,
        ctx: FlyteContext,
        flyte_value: literals.StructuredDataset,
        current_task_metadata: StructuredDatasetMetadata,
    ) -> Ledger:
        local = ctx.file_access.get_random_local_directory()
        ctx.file_access.get_data(flyte_value.uri, local, is_multipart=True)
        table = pq.read_table(local)
        accounts = table.column("account").to_pylist()
        amounts = table.column("amount").to_pylist()
        return Ledger(list(zip(accounts, amounts, strict=True)))


StructuredDatasetTransformerEngine.register(LedgerWriter(Ledger, None, PARQUET))
StructuredDatasetTransformerEngine.register(LedgerReader(Ledger, None, PARQUET))

cols = kwtypes(account=str, amount=int)


@task
def entries() -> pd.DataFrame:
    return pd.DataFrame(
        {"account": ["rent", "food", "rent"], "amount": [900, 120, 900], "memo": ["a", "b", "c"]}
    )


@task
def to_ledger(
    sd: Annotated[StructuredDataset, cols],
) -> Annotated[StructuredDataset, cols, PARQUET]:
    ledger = sd.open(Ledger).all()
    print("ledger of", len(ledger.rows), "rows, total", ledger.total())
    return StructuredDataset(dataframe=Ledger([*ledger.rows, ("fee", 5)]))


@task
def summary(sd: StructuredDataset) -> str:
    frame = sd.open(pd.DataFrame).all()
    by = frame.groupby("account")["amount"].sum().to_dict()
    return ", ".join(f"{k}={v}" for k, v in sorted(by.items()))


@task
def as_csv(df: pd.DataFrame) -> Annotated[StructuredDataset, CSV]:
    return StructuredDataset(dataframe=df[df["amount"] > 200])


@workflow
def ledger_wf() -> str:
    return summary(sd=to_ledger(sd=entries()))


@workflow
def ledger_out() -> Annotated[StructuredDataset, cols, PARQUET]:
    return to_ledger(sd=entries())


@workflow
def csv_wf() -> Annotated[StructuredDataset, CSV]:
    return as_csv(df=entries())


if __name__ == "__main__":
    print(ledger_wf())
    print(ledger_out().open(Ledger).all().total())
    print(csv_wf().open(pd.DataFrame).all()[["account", "amount"]].to_dict("list"))
