"""Names that address a remote Flyte cluster: they have no local meaning here."""

from __future__ import annotations

from typing import Any, NoReturn

from airfoil.core.errors import DefinitionError

__all__ = ["FlyteRemote", "reference_launch_plan", "reference_task", "reference_workflow"]


def _refuse(what: str, instead: str) -> NoReturn:
    raise DefinitionError(
        f"{what} addresses a remote Flyte cluster, which Airfoil does not talk to: {instead}"
    )


class FlyteRemote:
    """Not available: use ``airfoil.client.Client`` against an Airfoil server."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _refuse(
            "FlyteRemote",
            "to run, list or fetch executions on an Airfoil server use airfoil.client.Client "
            "(or the `airfoil` CLI: airfoil run --remote, airfoil remote ...)",
        )


def _reference(kind: str) -> Any:
    def reference(*args: Any, **kwargs: Any) -> Any:
        _refuse(
            f"reference_{kind}({', '.join(map(repr, args))})",
            f"import the {kind}'s Python definition from its package and call it (Airfoil "
            "runs the code it is given), or start it on an Airfoil server with airfoil.client",
        )

    reference.__name__ = reference.__qualname__ = f"reference_{kind}"
    return reference


reference_task = _reference("task")
reference_launch_plan = _reference("launch_plan")
reference_workflow = _reference("workflow")
