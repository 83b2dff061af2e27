"""Four small models with awkward outputs or inputs, as users build them:

- ``numbered``: features from a numpy array (``pd.DataFrame(x)``: columns named 0, 1, 2)
  beside a named target, so the frame's column names are of mixed type (stored as text);
- ``linear``: a linear regression whose prediction overflows to infinity for a feature
  that is a finite but huge number (1e308);
- ``slow``: the same regression, whose predictor hangs on a row with x == 99 until
  ``release`` is set;
- ``dropper``: the same regression, whose predictor drops the rows with a missing value
  (``dropna``), so it answers fewer predictions than rows."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression, LogisticRegression

from airfoil.ml import Dataset, Model

numbered_data = Dataset("numbered", targets=["label"], test_size=0.25)
numbered = Model("numbered", init=LogisticRegression, dataset=numbered_data)


@numbered_data.reader
def numbered_reader(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    frame = pd.DataFrame(np.random.default_rng(seed).normal(size=(rows, 3)))
    frame["label"] = (frame[0] + frame[1] > 0).astype(int)
    return frame


@numbered.trainer
def numbered_trainer(
    estimator: LogisticRegression, X: pd.DataFrame, y: pd.Series
) -> LogisticRegression:
    return estimator.fit(X, y)


@numbered.predictor
def numbered_predictor(estimator: LogisticRegression, features: pd.DataFrame) -> list[int]:
    return [int(p) for p in estimator.predict(features)]


linear_data = Dataset("linear", targets=["y"], test_size=0.25)
linear = Model("linear", init=LinearRegression, dataset=linear_data)


@linear_data.reader
def linear_reader(rows: int = 80) -> pd.DataFrame:
    x = np.random.default_rng(1).normal(size=rows)
    return pd.DataFrame({"x": x, "y": 10.0 * x})


@linear.trainer
def linear_trainer(estimator: LinearRegression, X: pd.DataFrame, y: pd.Series) -> LinearRegression:
    return estimator.fit(X, y)


@linear.predictor
def linear_predictor(estimator: LinearRegression, features: pd.DataFrame) -> list[float]:
    with np.errstate(over="ignore"):  # the overflow is the point: no RuntimeWarning
        return [float(p) for p in estimator.predict(features)]


#: Set to let a prediction of ``slow`` on x == 99 finish (it waits on it: a hung predictor).
release = threading.Event()
slow_data = Dataset("slow", targets=["y"], test_size=0.25)
slow = Model("slow", init=LinearRegression, dataset=slow_data)


@slow_data.reader
def slow_reader(rows: int = 80) -> pd.DataFrame:
    return linear_reader(rows)


slow.trainer(linear_trainer)


@slow.predictor
def slow_predictor(estimator: LinearRegression, features: pd.DataFrame) -> list[float]:
    if (features["x"] == 99.0).any():
        release.wait(60)  # a predictor stuck on a lock, a remote call, a runaway loop
    return [float(p) for p in estimator.predict(features)]


dropper_data = Dataset("dropper", targets=["y"], test_size=0.25)
dropper = Model("dropper", init=LinearRegression, dataset=dropper_data)
dropper.trainer(linear_trainer)


@dropper_data.reader
def dropper_reader(rows: int = 80) -> pd.DataFrame:
    return linear_reader(rows)


@dropper.predictor
def dropper_predictor(estimator: LinearRegression, features: pd.DataFrame) -> list[float]:
    # a predictor's common slip: rows with a missing value are dropped, not predicted
    return [float(p) for p in estimator.predict(features.dropna())]
