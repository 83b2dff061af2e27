"""A tiny model for the ml tests: logistic regression on three synthetic features."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from airfoil.ml import Dataset, Model

dataset = Dataset("tiny", targets=["label"], test_size=0.25)
model = Model("tiny", init=LogisticRegression, dataset=dataset)


@dataset.reader
def reader(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3))
    return pd.DataFrame(
        {"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "label": (x[:, 0] + x[:, 1] > 0).astype(int)}
    )


@model.trainer
def trainer(estimator: LogisticRegression, X: pd.DataFrame, y: pd.Series) -> LogisticRegression:
    return estimator.fit(X, y)


@model.predictor
def predictor(estimator: LogisticRegression, features: pd.DataFrame) -> list[int]:
    return [int(p) for p in estimator.predict(features)]


@model.evaluator
def evaluator(estimator: LogisticRegression, X: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    return {"accuracy": float(estimator.score(X, y))}
