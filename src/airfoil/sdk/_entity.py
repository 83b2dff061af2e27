"""What tasks and workflows share: naming, interface building, running outside a workflow."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airfoil.core.local_runner import local_runner
from airfoil.sdk import _compile

if TYPE_CHECKING:
    from airfoil.types import TypeEngine

__all__ = ["entity_module", "run_outside"]


def entity_module(fn: Callable[..., Any]) -> str:
    """The importable module name of a function; scripts run as ``__main__`` get their file
    stem, so worker processes can import them by name."""
    module = getattr(fn, "__module__", None) or "__main__"
    if module == "__main__":
        main = sys.modules.get("__main__")
        file = getattr(main, "__file__", None)
        if file:
            return str(os.path.splitext(os.path.basename(file))[0])
    return str(module)


def type_engine() -> TypeEngine:
    from airfoil.types import default_type_engine

    return default_type_engine()


def run_outside(entity: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run a task or workflow called outside any workflow through the installed local runner
    (the embedded engine, see :mod:`airfoil.core.local_runner`): the SDK layer does not
    depend on the engine; the entry point that starts it is handed in.
    """
    ctx = _compile.active()
    assert ctx is None
    return local_runner().call_entity(entity, args, kwargs)
