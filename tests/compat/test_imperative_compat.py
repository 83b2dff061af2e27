"""flytekit's imperative ``Workflow``: its failure handler takes flytekit's signature."""

from __future__ import annotations

import pytest

import airfoil as af
from airfoil.compat.flytekit import Workflow, task
from airfoil.compat.flytekit.types.error import FlyteError


@task
def fragile(x: int) -> int:
    if x > 1:
        raise ValueError("too big")
    return x


def test_the_flytekit_builder_adapts_its_handler() -> None:
    seen: list[bool] = []

    @task
    def fk_cleanup(x: int, err: FlyteError | None = None) -> None:
        seen.append(err is not None)

    wb = Workflow(name="fk_guarded")
    wb.add_workflow_input("x", int)
    wb.add_entity(fragile, x=wb.inputs["x"])
    wb.add_on_failure_handler(fk_cleanup)
    with pytest.raises(af.ExecutionFailedError):
        wb(x=3)
    assert seen == [True]
