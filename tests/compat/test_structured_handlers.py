"""Custom dataframe handlers (flytekit's StructuredDatasetEncoder / Decoder registered with
StructuredDatasetTransformerEngine): a class of one's own as a dataset and as a task's type,
numpy arrays (flytesnacks' example), CSV decoders, and the errors of bad handlers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airfoil.compat.flytekit import FlyteContext, StructuredDatasetType, task, workflow
from airfoil.compat.flytekit.models import literals
from airfoil.compat.flytekit.models.literals import StructuredDatasetMetadata
from airfoil.compat.flytekit.types.structured import register_csv_handlers
from airfoil.compat.flytekit.types.structured.structured_dataset import (
    CSV,
    PARQUET,
    DuplicateHandlerError,
    StructuredDataset,
    StructuredDatasetDecoder,
    StructuredDatasetEncoder,
    StructuredDatasetTransformerEngine,
)
from airfoil.core.errors import ExecutionFailedError

pytestmark = pytest.mark.integration


class Grid:
    """A frame class no library knows: named columns of ints."""

    def __init__(self, columns: dict[str, list[int]]) -> None:
        self.columns = columns


class GridWriter(StructuredDatasetEncoder[Grid]):
    def encode(
        self, ctx: FlyteContext, structured_dataset: Any, structured_dataset_type: Any
    ) -> literals.StructuredDataset:
        grid = structured_dataset.dataframe
        local = ctx.file_access.get_random_local_directory()
        pq.write_table(pa.table(grid.columns), os.path.join(local, "00000"))
        remote = ctx.file_access.get_random_remote_directory()
        ctx.file_access.upload_directory(local, remote)
        fmt = StructuredDatasetType(format=PARQUET)
        return literals.StructuredDataset(uri=remote, metadata=StructuredDatasetMetadata(fmt))


class GridReader(StructuredDatasetDecoder[Grid]):
    def decode(self, ctx: FlyteContext, flyte_value: Any, current_task_metadata: Any) -> Grid:
        wanted = [c.name for c in current_task_metadata.structured_dataset_type.columns]
        table = pq.read_table(flyte_value.uri, columns=wanted or None)
        return Grid(table.to_pydict())


class GridCsvReader(StructuredDatasetDecoder[Grid]):
    def decode(self, ctx: FlyteContext, flyte_value: Any, current_task_metadata: Any) -> Grid:
        frame = pd.read_csv(os.path.join(flyte_value.uri, ".csv"))  # flytekit's file name
        return Grid({k: [v * 100 for v in vs] for k, vs in frame.to_dict("list").items()})


StructuredDatasetTransformerEngine.register(GridWriter(Grid, None, PARQUET))
StructuredDatasetTransformerEngine.register(GridReader(Grid, None, PARQUET))
StructuredDatasetTransformerEngine.register(GridCsvReader(Grid, None, CSV))
register_csv_handlers()  # nothing to do: pandas CSV is built in


@task
def frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [1, 2], "b": [3, 4]})


@task
def widen(sd: StructuredDataset) -> StructuredDataset:
    grid = sd.open(Grid).all()
    return StructuredDataset(dataframe=Grid({**grid.columns, "c": [5, 6]}))


@task
def grid_out(n: int) -> Grid:  # a registered class as a task's own type, as flytekit allows
    return Grid({"x": list(range(n))})


@task
def grid_in(g: Grid) -> int:
    return sum(g.columns["x"])


@task
def columns_of(sd: Annotated[StructuredDataset, {"a": int}]) -> list[str]:
    return sorted(sd.open(Grid).all().columns)


@task
def as_pandas(sd: StructuredDataset) -> int:
    return int(sd.open(pd.DataFrame).all().to_numpy().sum())


@workflow
def grid_wf() -> int:
    return as_pandas(sd=widen(sd=frame()))


@workflow
def typed_wf(n: int = 4) -> int:
    return grid_in(g=grid_out(n=n))


@workflow
def columns_wf() -> list[str]:
    return columns_of(sd=widen(sd=frame()))


@workflow
def grid_output() -> StructuredDataset:
    return widen(sd=frame())


def test_a_registered_class_is_written_and_read_by_its_handlers() -> None:
    assert grid_wf() == 1 + 2 + 3 + 4 + 5 + 6
    opened = grid_output().open(Grid).all()  # the decoder outside a task too
    assert opened.columns == {"a": [1, 2], "b": [3, 4], "c": [5, 6]}
    assert grid_output().open(pd.DataFrame).all()["c"].tolist() == [5, 6]


def test_a_registered_class_is_a_task_type_and_binds_to_other_frames() -> None:
    assert typed_wf(n=4) == 6
    assert columns_wf() == ["a"]  # the declared columns reach the decoder


def test_a_decoder_of_another_format_reads_the_files_flytekit_names(tmp_path: Path) -> None:
    sd = StructuredDataset(file_format=CSV)
    stored = grid_output()
    sd._stored, sd._columns = stored._stored, None
    assert sd.open(Grid).all().columns["a"] == [100, 200]  # GridCsvReader read <dir>/.csv


class NotAHandler:
    pass


class OtherGridWriter(GridWriter):
    pass


class AvroWriter(GridWriter):
    pass


class Broken:
    def __init__(self, n: int) -> None:
        self.n = n


class BrokenWriter(StructuredDatasetEncoder[Broken]):
    def encode(self, ctx: Any, structured_dataset: Any, structured_dataset_type: Any) -> Any:
        return "not a literal"


StructuredDatasetTransformerEngine.register(BrokenWriter(Broken, None, PARQUET))


@task
def broken() -> StructuredDataset:
    return StructuredDataset(dataframe=Broken(1))


@task
def unregistered() -> StructuredDataset:
    return StructuredDataset(dataframe=NotAHandler())


def test_bad_handlers_are_refused_naming_the_fix() -> None:
    with pytest.raises(TypeError, match="StructuredDatasetEncoder or StructuredDatasetDecoder"):
        StructuredDatasetTransformerEngine.register(NotAHandler())  # type: ignore[arg-type]
    with pytest.raises(DuplicateHandlerError, match="override=True"):
        StructuredDatasetTransformerEngine.register(OtherGridWriter(Grid, None, PARQUET))
    StructuredDatasetTransformerEngine.register(GridWriter(Grid, None, PARQUET))  # same class
    with pytest.raises(ExecutionFailedError, match=r"must return literals.StructuredDataset"):
        broken()
    with pytest.raises(ExecutionFailedError, match="no StructuredDatasetEncoder is registered"):
        unregistered()
    with pytest.raises(Exception, match="no StructuredDatasetDecoder is registered"):
        grid_output().open(NotAHandler).all()


def test_a_format_airfoil_cannot_read_back_is_refused() -> None:
    class Cube:
        pass

    StructuredDatasetTransformerEngine.register(AvroWriter(Cube, None, "avro"))
    from airfoil.compat.flytekit._structured import encode_to_table
    from airfoil.types import ConversionError

    with pytest.raises(ConversionError, match=r"format 'avro'.*PARQUET or CSV"):
        encode_to_table(Cube(), "avro", None)


def test_numpy_arrays_through_their_handlers_as_in_flytesnacks(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFOIL_")}
    env["AIRFOIL_HOME"] = str(tmp_path / "home")
    src = Path(__file__).resolve().parents[2] / "src"
    env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "_numpy_frames_wf.py"],
        cwd=Path(__file__).parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines() == [
        "decoded ndarray (3, 2)",
        "[[2, 20], [4, 40], [6, 60]]",
        "decoded ndarray (3, 2)",
        "132",
        "{'a': [1, 2, 3], 'b': [10, 20, 30]}",
    ]
