"""Saving and loading trained model objects as bytes, with working defaults.

- scikit-learn estimators (and anything from ``sklearn``): pickled (format ``sklearn``).
- PyTorch modules: their ``state_dict`` (format ``torch-state-dict``); loading builds the
  module with the model's ``init`` and hyperparameters and loads the state into it.
- Anything else picklable: pickled (format ``pickle``) with a :class:`ModelPickleWarning`,
  since a pickle only loads where the same classes are importable.

A model's own ``saver``/``loader`` (format ``custom``) take precedence.
"""

from __future__ import annotations

import io
import pickle
import sys
import warnings
from collections.abc import Callable
from typing import Any, BinaryIO

from airfoil.core.errors import ConfigError

__all__ = ["ModelPickleWarning", "load_model", "save_model"]


class ModelPickleWarning(UserWarning):
    """A model object of no known library was saved with pickle."""


def _is_torch_module(obj: object) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def _is_sklearn(obj: object) -> bool:
    return type(obj).__module__.split(".", 1)[0] == "sklearn" or (
        hasattr(obj, "get_params") and hasattr(obj, "fit")
    )


def save_model(
    obj: object, saver: Callable[[Any, BinaryIO], None] | None = None
) -> tuple[bytes, str]:
    """``(bytes, format)`` of a trained model object.

    Raises:
        ConfigError: the object cannot be pickled (give the model a saver).
    """
    buffer = io.BytesIO()
    if saver is not None:
        saver(obj, buffer)
        return buffer.getvalue(), "custom"
    if _is_torch_module(obj):
        import torch

        torch.save(obj.state_dict(), buffer)  # type: ignore[attr-defined]
        return buffer.getvalue(), "torch-state-dict"
    fmt = "sklearn" if _is_sklearn(obj) else "pickle"
    if fmt == "pickle":
        warnings.warn(
            f"saving a {type(obj).__qualname__} model with pickle: it loads only where the "
            "same classes are importable (give the model a saver and loader to avoid this)",
            ModelPickleWarning,
            stacklevel=3,
        )
    try:
        pickle.dump(obj, buffer, protocol=5)
    except Exception as exc:
        raise ConfigError(
            f"cannot pickle the trained {type(obj).__qualname__}: {exc} (give the model a "
            "saver and a loader: @model.saver / @model.loader)"
        ) from exc
    return buffer.getvalue(), fmt


def load_model(
    data: bytes,
    fmt: str,
    *,
    loader: Callable[[BinaryIO], Any] | None = None,
    build: Callable[[], Any] | None = None,
) -> Any:
    """The model object saved as ``data`` in format ``fmt``.

    Args:
        loader: the model's own loader (format ``custom``).
        build: makes a fresh module to load a ``torch-state-dict`` into.

    Raises:
        ConfigError: no way to load this format here.
    """
    buffer = io.BytesIO(data)
    if fmt == "custom":
        if loader is None:
            raise ConfigError("the model was saved by a custom saver: give the model its loader")
        return loader(buffer)
    if fmt == "torch-state-dict":
        if build is None:
            raise ConfigError("a torch state dict loads into a module: the model needs an init")
        import torch

        module = build()
        module.load_state_dict(torch.load(buffer, weights_only=True))
        module.eval()
        return module
    if fmt in ("sklearn", "pickle"):
        return pickle.loads(data)
    raise ConfigError(
        f"unknown model format {fmt!r}: one of sklearn, torch-state-dict, pickle, custom"
    )
