"""Executors: the ``submit()`` seam and its adapters (inline, process, ray).

The engine hands attempts to an executor and polls for results; it never knows how they run.
The names below are loaded on first use: importing a submodule alone (the process executor's
forkserver imports :mod:`airfoil.executors._process_env` before anything else, and replaces
itself right after) does not import the seam's records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airfoil.executors.base import AttemptRequest, AttemptResult, Executor

__all__ = ["AttemptRequest", "AttemptResult", "Executor"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from airfoil.executors import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
