"""examples/ml_torch_mlp.py's model: a PyTorch MLP trained as a workflow, registered as its
state dict and rebuilt from init and hyperparameters to predict (in Python and served)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

# (a found-spec check, not importorskip: importing torch while collecting costs seconds)
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed"),
]


def _example(repo_root: Path) -> Any:
    path = repo_root / "examples" / "ml_torch_mlp.py"
    spec = importlib.util.spec_from_file_location("ml_torch_mlp", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ml_torch_mlp"] = module
    spec.loader.exec_module(module)
    return module


def test_a_torch_model_is_saved_as_its_state_dict_and_served(repo_root: Path) -> None:
    import asyncio

    import httpx

    from airfoil.ml import create_service, local_registry
    from airfoil.ml._serve import ModelService

    ex = _example(repo_root)
    trained = ex.model.train(hyperparameters={"hidden": 32, "epochs": 40}, sample_frac=0.5)
    assert trained.artifact is not None
    assert trained.artifact.metadata["format"] == "torch-state-dict"
    assert trained.metrics["score"] > 0.8
    registry = local_registry()
    loaded = registry.load(ex.model, trained.ref)
    assert isinstance(loaded.obj, ex.MLP) and loaded.obj.layers[0].out_features == 32
    rows = ex.reader(sample_frac=0.05).drop(columns=["target"])
    assert ex.model.predict(rows, ref=trained.ref) == ex.predictor(
        trained.obj, rows.to_numpy(dtype=float)
    )
    registry.promote(trained.ref, "production")
    app = create_service(ModelService(ex.model, registry, "digits_mlp@production"))
    body = {"features": rows.head(3).to_dict("records")}

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.post("/predict", json=body)

    r = asyncio.run(call())
    assert r.status_code == 200
    assert r.json() == {
        "predictions": ex.model.predict(rows.head(3), ref=trained.ref),
        "version": 1,
    }
