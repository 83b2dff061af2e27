"""A model whose evaluator gives a metric that is not a finite number for one setting (C=2):
a diverged loss, or a score of a test split with one class, as real evaluators do."""

from __future__ import annotations

import numpy as np
import pandas as pd
from _tiny import predictor as tiny_predictor
from _tiny import trainer as tiny_trainer
from sklearn.linear_model import LogisticRegression

from airfoil.ml import Dataset, Model

dataset = Dataset("odd", targets=["label"], test_size=0.25)
model = Model("odd", init=LogisticRegression, dataset=dataset)


@dataset.reader
def reader(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    x = np.random.default_rng(seed).normal(size=(rows, 2))
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "label": (x[:, 0] > x[:, 1]).astype(int)})


model.trainer(tiny_trainer)  # _tiny's: only the evaluator differs
model.predictor(tiny_predictor)


@model.evaluator
def evaluator(estimator: LogisticRegression, X: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    score = float(estimator.score(X, y))
    return {"accuracy": float("nan") if estimator.C == 2.0 else score, "loss": 1.0 - score}
