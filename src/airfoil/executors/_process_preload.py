"""Warm-up for the process executor's forkserver. Import this only there.

The forkserver imports the runtime factory's module (the runtime, the SDK) and then this
module once; every worker it forks then starts with them, the type engine (built: its first
construction takes tens of milliseconds) and the blob stores ready, so a fresh worker
answers its first attempt in a few tens of milliseconds.
Each step is guarded: a module that fails to import (being edited, a missing optional
dependency) fails again, visibly, in the worker that needs it, instead of taking the
forkserver down. Finally ``gc.freeze()`` keeps the collector of each forked worker from
touching (and so copying) the inherited objects.
"""

from __future__ import annotations

import gc
import importlib

WARM_MODULES = (
    "ctypes",
    "msgspec",
    "psutil",
    "airfoil.executors._process_worker",
    "airfoil.store.blob",
    "airfoil.types",
)


def _warm() -> None:
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # see the module docstring
            continue
    try:
        from airfoil.types import default_type_engine

        default_type_engine()
    except Exception:  # see the module docstring
        pass
    gc.freeze()


_warm()
