"""flytekit's imperative ``Workflow`` and ``create_node`` (onto Airfoil's)."""

from __future__ import annotations

import sys
from typing import Any

from airfoil.sdk._imperative import ImperativeWorkflow as _Imperative
from airfoil.sdk._imperative import create_node

__all__ = ["ImperativeWorkflow", "Workflow", "create_node"]


class ImperativeWorkflow(_Imperative):
    """flytekit's ``Workflow(name=...)``: add inputs, entities and outputs, then call it. A
    script's call shows what its tasks print, as flytekit's local run does."""

    def __init__(self, name: str, failure_policy: Any = None, interruptible: bool = False) -> None:
        from airfoil.compat.flytekit._decorators import WorkflowFailurePolicy

        policy = failure_policy or WorkflowFailurePolicy.FAIL_IMMEDIATELY
        super().__init__(name, policy, interruptible)
        self._module = sys._getframe(1).f_globals.get("__name__", "__main__")

    def add_on_failure_handler(self, entity: Any) -> None:
        """flytekit's: a task taking the workflow's inputs and ``err: Optional[FlyteError]``."""
        from airfoil.compat.flytekit._decorators import _failure_adapter

        super().add_on_failure_handler(_failure_adapter(entity))

    def built(self) -> Any:
        made = super().built()
        vars(made)["echo_task_output"] = True
        return made


Workflow = ImperativeWorkflow
