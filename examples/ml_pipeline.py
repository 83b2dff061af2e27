"""An ML pipeline on scikit-learn's breast-cancer dataset (ships with scikit-learn).

load -> split -> scale -> train four models in parallel branches -> evaluate -> pick the best.
Every task is cached: run it twice and the second run is near-instant (and says so).

    airfoil run examples/ml_pipeline.py ml_pipeline --test-size 0.3
"""

from __future__ import annotations

import os
from typing import NamedTuple

import pandas as pd

import airfoil as af

MODELS = ["logistic_regression", "random_forest", "gradient_boosting", "svm"]


class Split(NamedTuple):
    train: pd.DataFrame
    test: pd.DataFrame


class Best(NamedTuple):
    model: str
    accuracy: float
    scores: dict[str, float]


@af.task(cache=True)
def load_data() -> pd.DataFrame:
    """Load the breast-cancer dataset as one frame with a ``target`` column."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame: pd.DataFrame = data.frame
    return frame


@af.task(cache=True)
def split(df: pd.DataFrame, test_size: float, seed: int) -> Split:
    """Stratified train/test split.

    Args:
        df: the whole dataset.
        test_size: fraction of rows held out for testing.
        seed: random seed of the split.
    """
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        df, test_size=test_size, random_state=seed, stratify=df["target"]
    )
    return Split(train=train, test=test)


@af.task(cache=True)
def scale(train: pd.DataFrame, test: pd.DataFrame) -> Split:
    """Standardise features with statistics of the training set only."""
    features = [c for c in train.columns if c != "target"]
    mean, std = train[features].mean(), train[features].std().replace(0, 1.0)
    out_train, out_test = train.copy(), test.copy()
    out_train[features] = (train[features] - mean) / std
    out_test[features] = (test[features] - mean) / std
    return Split(train=out_train, test=out_test)


@af.task(cache=True, retries=1, requests=af.Resources(cpu="1", mem="512Mi"))
def train(name: str, data: pd.DataFrame, seed: int) -> af.File:
    """Fit one model and save it with joblib."""
    import joblib
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    models = {
        "logistic_regression": lambda: LogisticRegression(max_iter=2000),
        "random_forest": lambda: RandomForestClassifier(n_estimators=200, random_state=seed),
        "gradient_boosting": lambda: GradientBoostingClassifier(random_state=seed),
        "svm": lambda: SVC(random_state=seed),
    }
    model = models[name]()
    model.fit(data.drop(columns="target"), data["target"])
    af.current_context().logger.info("trained %s on %d rows", name, len(data))
    path = os.path.join(af.current_context().scratch_dir, f"{name}.joblib")
    joblib.dump(model, path)
    return af.File(path)


@af.task(cache=True)
def evaluate(model: af.File, data: pd.DataFrame) -> dict[str, float]:
    """Accuracy, F1 and ROC AUC of a saved model on held-out data."""
    import joblib
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    clf = joblib.load(model.path)
    x, y = data.drop(columns="target"), data["target"]
    predicted = clf.predict(x)
    scores = (
        clf.predict_proba(x)[:, 1] if hasattr(clf, "predict_proba") else clf.decision_function(x)
    )
    return {
        "accuracy": float(accuracy_score(y, predicted)),
        "f1": float(f1_score(y, predicted)),
        "roc_auc": float(roc_auc_score(y, scores)),
    }


@af.task
def pick_best(names: list[str], scores: list[dict[str, float]]) -> Best:
    """The model with the best accuracy (ties broken by ROC AUC)."""
    ranked = sorted(
        zip(names, scores, strict=True), key=lambda p: (p[1]["accuracy"], p[1]["roc_auc"])
    )
    name, best = ranked[-1]
    return Best(model=name, accuracy=best["accuracy"], scores=best)


@af.workflow
def ml_pipeline(test_size: float = 0.25, seed: int = 7) -> Best:
    """Train several classifiers and keep the best one."""
    df = load_data()
    parts = split(df=df, test_size=test_size, seed=seed)
    scaled = scale(train=parts.train, test=parts.test)
    scores = [
        evaluate(model=train(name=name, data=scaled.train, seed=seed), data=scaled.test)
        for name in MODELS
    ]
    return pick_best(names=MODELS, scores=scores)


if __name__ == "__main__":
    print(ml_pipeline())
