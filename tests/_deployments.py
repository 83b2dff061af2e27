"""Waiting on deployments in tests (the supervisor, zygote, replica-limit and deploy tests):
whether a process runs, a poll until a check holds, and the checks "a deployment's replicas
all serve", read from the artifact store or from the server's API; and a user's model file
written and imported, as the model a replica loads."""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from airfoil.server._replica_limits import pid_alive as alive
from airfoil.store.artifacts import ArtifactStore
from airfoil.store.deployments import Deployment

__all__ = ["HOG_MODEL", "alive", "load_model_file", "ready_in_api", "ready_in_store", "until"]

#: A model file whose predictor leaks: a request ``{"mib": N}`` keeps N MiB more resident
#: (the replica-memory tests: a replica past its ``--memory`` is killed and restarted).
HOG_MODEL = """
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from airfoil.ml import Dataset, Model

dataset = Dataset("hog", targets=["label"])
model = Model("hog", init=LogisticRegression, dataset=dataset)
HELD = []

@dataset.reader
def reader(rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 1))
    return pd.DataFrame({"mib": x[:, 0], "label": (x[:, 0] > 0).astype(int)})

@model.trainer
def trainer(est: LogisticRegression, X: pd.DataFrame, y: pd.Series) -> LogisticRegression:
    return est.fit(X.to_numpy(), y)

@model.predictor
def predictor(est: LogisticRegression, features: np.ndarray) -> list[int]:
    mib = int(features[0][0])
    if mib > 0:  # a leak: the memory stays held (and touched: resident)
        HELD.append(np.ones(mib * 2**20 // 8))
    return [len(HELD)]
"""


def load_model_file(path: Path, source: str) -> ModuleType:
    """``source`` written to ``path`` and imported as the module named by its stem (as the
    user's model file a replica loads)."""
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def until(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """``check()``'s first true answer, asked every 0.1 s; fails the test, naming ``what``,
    after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def ready_in_store(
    store: ArtifactStore, project: str, name: str, replicas: int, restarts: int | None = None
) -> Deployment | None:
    """The deployment if it has ``replicas`` replicas, all ready, restarted ``restarts``
    times in all (any number if None); else None."""
    d = store.get_deployment(project, name)
    if d is None or len(d.members) != replicas or any(r.status != "ready" for r in d.members):
        return None
    if restarts is not None and sum(r.restarts for r in d.members) != restarts:
        return None
    return d


def ready_in_api(url: str, replicas: int, version: int | None = None) -> Any:
    """The deployment at ``url`` (``GET .../deployments/NAME``, as JSON) if it has
    ``replicas`` replicas, all ready (serving ``version`` if given); else None."""
    d = httpx.get(url, timeout=10).json()
    members = d.get("members", [])
    ok = len(members) == replicas and all(
        m["status"] == "ready" and (version is None or m["version"] == version) for m in members
    )
    return d if ok else None
