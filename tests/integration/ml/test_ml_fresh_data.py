"""A dataset reader that reads a source outside its arguments (a file, a table) is read again
by every training: editing the data retrains, the same data still trains once."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from airfoil.ml import Dataset, Model, ModelRegistry

pytestmark = pytest.mark.integration

dataset = Dataset("fresh", targets=["y"], test_size=0.25)
model = Model("fresh", init=LinearRegression, dataset=dataset)


@dataset.reader
def reader() -> pd.DataFrame:
    return pd.read_csv(os.environ["FRESH_CSV"])


@model.trainer
def trainer(estimator: LinearRegression, X: pd.DataFrame, y: pd.Series) -> LinearRegression:
    return estimator.fit(X, y)


@model.predictor
def predictor(estimator: LinearRegression, features: pd.DataFrame) -> list[float]:
    return [float(p) for p in estimator.predict(features)]


snapshot = Dataset("snapshot", targets=["y"], test_size=0.25, cache_reads=True)
pinned = Model("snapshot", init=LinearRegression, dataset=snapshot)
snapshot.reader(reader)
pinned.trainer(trainer)
pinned.predictor(predictor)


def _write(path: Path, slope: float) -> None:
    x = np.arange(40, dtype=float)
    pd.DataFrame({"x": x, "y": slope * x}).to_csv(path, index=False)


def test_editing_the_data_a_reader_reads_retrains(
    registry: ModelRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv = tmp_path / "sales.csv"
    monkeypatch.setenv("FRESH_CSV", str(csv))
    _write(csv, 2.0)
    first = model.train(registry=registry)
    assert first.ref == "fresh:1" and first.obj.coef_[0] == pytest.approx(2.0)
    _write(csv, 5.0)  # new data, same reader arguments
    second = model.train(registry=registry)
    assert second.ref == "fresh:2" and second.obj.coef_[0] == pytest.approx(5.0)
    assert second.artifact is not None and first.artifact is not None
    assert second.artifact.lineage["dataset_hash"] != first.artifact.lineage["dataset_hash"]
    _write(csv, 2.0)  # the first data again: the fit comes from the cache
    again = model.train(registry=registry)
    assert again.ref == "fresh:1" and again.execution_id == first.execution_id
    assert model.batch_predict(ref="fresh:2", registry=registry)[:2] == pytest.approx([0.0, 5.0])


def test_a_dataset_that_caches_its_reads_reads_once_per_arguments(
    registry: ModelRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv = tmp_path / "snapshot.csv"
    monkeypatch.setenv("FRESH_CSV", str(csv))
    _write(csv, 2.0)
    first = pinned.train(registry=registry)
    _write(csv, 5.0)  # cache_reads=True: the reader's arguments fix its result
    again = pinned.train(registry=registry)
    assert again.ref == first.ref == "snapshot:1" and again.obj.coef_[0] == pytest.approx(2.0)
