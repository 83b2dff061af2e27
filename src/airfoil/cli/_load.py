"""Loading a task or workflow from a user's Python file."""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

from airfoil.core.errors import ConfigError

__all__ = ["load_entity"]


def load_entity(path: str, name: str) -> Any:
    """Import ``path`` as a module named after the file and return its task/workflow ``name``.

    Raises:
        ConfigError: the file does not exist, fails to import, or has no such entity.
    """
    if not os.path.isfile(path):
        raise ConfigError(f"no such file: {path}")
    if not path.endswith(".py"):
        raise ConfigError(f"{path} is not a Python file (.py)")
    full = os.path.abspath(path)
    directory = os.path.dirname(full)
    module_name = os.path.splitext(os.path.basename(full))[0]
    if directory not in sys.path:
        sys.path.insert(0, directory)
    module = sys.modules.get(module_name)
    if module is None or os.path.abspath(getattr(module, "__file__", "") or "") != full:
        spec = importlib.util.spec_from_file_location(module_name, full)
        if spec is None or spec.loader is None:
            raise ConfigError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except ConfigError:
            raise
        except Exception as exc:
            sys.modules.pop(module_name, None)
            from airfoil.core.errors import AirfoilError

            if isinstance(exc, AirfoilError):
                raise
            raise ConfigError(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    entity = getattr(module, name, None)
    if entity is None or not hasattr(entity, "py_interface"):
        found = sorted(
            k
            for k, v in vars(module).items()
            if hasattr(v, "py_interface") and not k.startswith("_")
        )
        raise ConfigError(
            f"{path} has no task or workflow named {name!r}"
            + (f"; it has: {', '.join(found)}" if found else "")
        )
    return entity
