"""Finding a task's function from its spec (module + qualname), importing it if needed."""

from __future__ import annotations

import importlib
import sys
from typing import Any

from airfoil.core.errors import PlatformError, TaskTimeoutError
from airfoil.core.records import TaskSpec
from airfoil.runtime._capture import before_import
from airfoil.sdk._select import SELECT_PREFIX, select_task_from_spec
from airfoil.sdk._task import live_task

__all__ = ["load_task"]

_cache: dict[tuple[str, str], Any] = {}


def load_task(spec: TaskSpec, code_root: str = "") -> Any:
    """The live ``TaskDef`` for a spec.

    Raises:
        PlatformError: the module cannot be imported or has no such task (for instance the
            code changed under a running execution).
    """
    if code_root.startswith("airfoil-package:"):  # a registered package (server runs)
        from airfoil.runtime._packages import materialize

        code_root = materialize(code_root)
    live = live_task(spec.module, spec.qualname)
    if live is not None:
        return live
    key = (spec.module, spec.qualname)
    found = _cache.get(key)
    if found is not None:
        return found
    module = sys.modules.get(spec.module)
    if module is None:
        if code_root and code_root not in sys.path:
            sys.path.insert(0, code_root)
        before_import()  # the root logger as the program left it (the module's basicConfig)
        try:
            module = importlib.import_module(spec.module)
        except TaskTimeoutError:  # the attempt's timeout interrupted a slow import
            raise
        except Exception as exc:
            raise PlatformError(
                f"could not import module {spec.module!r} of task {spec.name!r} "
                f"(code root {code_root or '.'}): {type(exc).__name__}: {exc}"
            ) from exc
    # A task made when the module was imported, under a name that is no module attribute
    # (a workflow's `out.field` select node, a ShellTask / ContainerTask): live now.
    live = live_task(spec.module, spec.qualname)
    if live is not None:
        return live
    if spec.qualname.startswith(SELECT_PREFIX):  # a dynamic workflow's: rebuilt from its spec
        found = select_task_from_spec(spec)
        _cache[key] = found
        return found
    obj: Any = module
    for part in spec.qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise PlatformError(
                f"module {spec.module!r} has no task {spec.qualname!r}: was the code changed "
                "after the execution started?"
            )
    if not hasattr(obj, "__airfoil_fn__"):
        raise PlatformError(f"{spec.module}.{spec.qualname} is not an Airfoil task")
    _cache[key] = obj
    return obj
