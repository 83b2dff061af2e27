"""flytekit's imperative ``Workflow`` and ``create_node`` (onto Airfoil's)."""

from __future__ import annotations

from typing import Any

from airfoil.sdk._imperative import ImperativeWorkflow as _Imperative
from airfoil.sdk._imperative import create_node

__all__ = ["ImperativeWorkflow", "Workflow", "create_node"]


class ImperativeWorkflow(_Imperative):
    """flytekit's ``Workflow(name=...)``: add inputs, entities and outputs, then call it. A
    script's call shows what its tasks print, as flytekit's local run does."""

    def built(self) -> Any:
        made = super().built()
        vars(made)["echo_task_output"] = True
        return made


Workflow = ImperativeWorkflow
