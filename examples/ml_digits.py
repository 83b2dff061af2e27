"""The model layer end to end on scikit-learn's digits: train, tune 8 trials, register,
promote, serve over HTTP, predict, and roll back.

Run it with ``python examples/ml_digits.py`` (it starts ``airfoil serve`` on a free port and
stops it at the end). Step by step from a shell instead::

    airfoil models list
    airfoil models promote digits:2 production
    airfoil serve digits@production --port 8080
    curl -X POST localhost:8080/predict -H 'content-type: application/json' \\
        -d '{"features": [{"pixel_0_0": 0, ...}]}'
    airfoil models rollback digits production
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from airfoil.ml import Dataset, Model

dataset = Dataset("digits", targets=["target"], test_size=0.2)
model = Model("digits", init=LogisticRegression, dataset=dataset)


@dataset.reader
def reader(sample_frac: float = 1.0, seed: int = 0) -> pd.DataFrame:
    return load_digits(as_frame=True).frame.sample(frac=sample_frac, random_state=seed)


@model.trainer
def trainer(estimator: LogisticRegression, X: pd.DataFrame, y: pd.Series) -> LogisticRegression:
    return estimator.fit(X / 16.0, y)


@model.predictor
def predictor(estimator: LogisticRegression, features: pd.DataFrame) -> list[int]:
    return [int(p) for p in estimator.predict(features / 16.0)]


@model.evaluator
def evaluator(estimator: LogisticRegression, X: pd.DataFrame, y: pd.Series) -> float:
    return float(estimator.score(X / 16.0, y))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _airfoil(*args: str) -> str:
    cmd = [sys.executable, "-m", "airfoil.cli", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def _wait_for_version(client: httpx.Client, version: int, timeout: float = 20.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if client.get("/health").json()["version"] == version:
                return time.monotonic() - start
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"the service did not serve version {version} in {timeout} s")


def main() -> None:
    first = model.train(hyperparameters={"C": 0.01, "max_iter": 300})
    print(f"trained {first.ref}: {first.metrics}")
    best = model.tune(
        {"C": [0.01, 0.1, 1.0, 10.0], "max_iter": [200, 300]},
        trials=8,
        metric="score",
        concurrency=4,
    )
    print(f"tuned {best.ref} of {len(best.trials)} trials: {best.hyperparameters} {best.metrics}")
    print(_airfoil("models", "promote", first.ref, "production", "--reason", "first model"))

    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airfoil.cli",
            "serve",
            "digits@production",
            "--port",
            str(port),
            "--poll",
            "0.2",
        ],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            ready = _wait_for_version(client, first.artifact.version if first.artifact else 1)
            print(f"serving {first.ref}, ready in {ready:.2f} s")
            rows = load_digits(as_frame=True).frame.drop(columns=["target"]).head(5)
            answer = client.post("/predict", json={"features": rows.to_dict("records")}).json()
            print(f"predicted {answer['predictions']} with version {answer['version']}")
            if best.ref != first.ref:
                print(_airfoil("models", "promote", best.ref, "production", "--reason", "tuned"))
                took = _wait_for_version(client, best.artifact.version if best.artifact else 0)
                print(f"alias moved: now serving {best.ref} after {took:.2f} s")
                print(_airfoil("models", "rollback", "digits", "production"))
                took = _wait_for_version(client, first.artifact.version if first.artifact else 1)
                print(f"rolled back: serving {first.ref} again after {took:.2f} s")
            bad = client.post("/predict", json={"features": [{"pixel_0_0": 1}]})
            print(f"bad input: {bad.status_code} {bad.json()['detail'][0]['loc']}")
            drift = client.get("/drift").json()
            print(
                f"drift over {drift['rows']} rows, e.g. pixel_0_2: "
                f"{drift['features']['pixel_0_2']['mean_shift_in_std']:.2f} std"
            )
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(_airfoil("models", "show", "digits"))


if __name__ == "__main__":
    main()
