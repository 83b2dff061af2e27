"""The model layer: from a training workflow to a versioned, served, monitored model.

- :class:`Dataset` and :class:`Model`: define data and a model; ``model.train()``,
  ``model.tune()``, ``model.predict()`` and ``model.batch_predict()`` run as workflows.
- :class:`ModelRegistry`: trained models as ``name:version`` artifacts with lineage and
  aliases (``local_registry()`` is the local one).
- :func:`create_service`: the prediction service (``airfoil serve``).

Built on the public SDK and the stores only (no engine internals). Importing it imports
nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Dataset": "airfoil.ml._dataset",
    "Model": "airfoil.ml._model",
    "ModelPickleWarning": "airfoil.ml._persist",
    "ModelRegistry": "airfoil.ml._registry",
    "RemoteTrainingTimeoutError": "airfoil.ml._remote",
    "TrainedModel": "airfoil.ml._registry",
    "LoadedModel": "airfoil.ml._registry",
    "local_registry": "airfoil.ml._registry",
    "parse_ref": "airfoil.ml._registry",
    "create_service": "airfoil.ml._serve",
}

__all__ = [
    "Dataset",
    "LoadedModel",
    "Model",
    "ModelPickleWarning",
    "ModelRegistry",
    "RemoteTrainingTimeoutError",
    "TrainedModel",
    "create_service",
    "local_registry",
    "parse_ref",
]

if TYPE_CHECKING:
    from airfoil.ml._dataset import Dataset
    from airfoil.ml._model import Model
    from airfoil.ml._persist import ModelPickleWarning
    from airfoil.ml._registry import (
        LoadedModel,
        ModelRegistry,
        TrainedModel,
        local_registry,
        parse_ref,
    )
    from airfoil.ml._remote import RemoteTrainingTimeoutError
    from airfoil.ml._serve import create_service


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'airfoil.ml' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
