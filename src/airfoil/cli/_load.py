"""Loading a task or workflow from a user's Python file."""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

from airfoil.core.errors import ConfigError

__all__ = ["NoSuchEntityError", "load_entity", "module_of"]


class NoSuchEntityError(ConfigError):
    """The file imported, but it holds no task or workflow of that name (unlike a file that
    does not exist or fails to import: a caller may look further, e.g. for a launch plan
    created under its own name, only in this case)."""


def module_of(path: str) -> tuple[str, str]:
    """The module name ``path`` is imported as, and the directory that goes on ``sys.path``.

    A file inside a package (its folder, and each one above it, has an ``__init__.py``) is
    a module of that package (``pkg.sub.file``, imported from the folder above ``pkg``), so
    its package-relative imports (``from .helpers import f``) work, as ``python -m`` and
    flytekit's ``pyflyte run`` run it; any other file is a module named after it.
    """
    full = os.path.abspath(path)
    directory = os.path.dirname(full)
    parts = [os.path.splitext(os.path.basename(full))[0]]
    if parts[0] == "__init__":
        parts = []
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        parts.insert(0, os.path.basename(directory))
        directory = os.path.dirname(directory)
    if not parts or not all(p.isidentifier() for p in parts):
        return os.path.splitext(os.path.basename(full))[0], os.path.dirname(full)
    return ".".join(parts), directory


def load_entity(path: str, name: str) -> Any:
    """Import ``path`` (as :func:`module_of` names it) and return its task/workflow ``name``.

    Raises:
        NoSuchEntityError: the file imported but has no such entity.
        ConfigError: the file does not exist or fails to import.
    """
    if not os.path.isfile(path):
        raise ConfigError(f"no such file: {path}")
    if not path.endswith(".py"):
        raise ConfigError(f"{path} is not a Python file (.py)")
    full = os.path.abspath(path)
    module_name, root = module_of(full)
    if root not in sys.path:
        sys.path.insert(0, root)
    module = sys.modules.get(module_name)
    if module is None or os.path.abspath(getattr(module, "__file__", "") or "") != full:
        try:
            module = _import(module_name, full, path)
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
        raise NoSuchEntityError(
            f"{path} has no task or workflow named {name!r}"
            + (f"; it has: {', '.join(found)}" if found else "")
        )
    return entity


def _import(module_name: str, full: str, path: str) -> Any:
    if "." in module_name:  # a module of a package: import the package first
        sys.modules.pop(module_name, None)
        module = importlib.import_module(module_name)
        found = os.path.abspath(getattr(module, "__file__", "") or "")
        if found != full:
            raise ConfigError(
                f"{path} is module {module_name} of its package, but importing that name "
                f"gives {found or 'a module without a file'}: another package of the same "
                "name comes first on sys.path; rename one, or run from another directory"
            )
        return module
    spec = importlib.util.spec_from_file_location(module_name, full)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
