"""A recover after the code was edited runs the edited code under the launched execution's
task versions: what it returns must not be cached under the launched version's key, or a
later run of the launched code reads the edited code's result (a stale hit)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

FLOW = textwrap.dedent(
    """
    import os
    import airfoil as af

    @af.task(cache=True)
    def scale(x: int) -> int:
        return x * 2

    @af.task
    def step(x: int) -> int:
        if os.environ.get("FAIL_STEP"):
            raise RuntimeError("step fails")
        return x + 1

    @af.task
    def steps(x: int) -> list[int]:
        if os.environ.get("FAIL_STEP"):
            raise RuntimeError("steps fail")
        return [x, x + 1]

    @af.workflow
    def wf(x: int = 1) -> int:
        return scale(x=step(x=x))

    @af.workflow
    def mapped(x: int = 1) -> list[int]:
        return af.map_task(scale)(x=steps(x=x))
    """
)


@pytest.mark.parametrize(
    ("workflow", "launched", "edited"),
    [("wf", {"o0": 4}, {"o0": 2000}), ("mapped", {"o0": [2, 4]}, {"o0": [1000, 2000]})],
)
def test_a_recover_of_edited_code_does_not_cache_under_the_launched_version(
    cli: Any, tmp_path: Path, workflow: str, launched: dict[str, Any], edited: dict[str, Any]
) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW)
    failed = cli("run", "--name", "f1", "--json", str(flow), workflow, env={"FAIL_STEP": "1"})
    assert failed.code == 1, failed.err

    flow.write_text(FLOW.replace("return x * 2", "return x * 1000"))
    rec = cli("executions", "recover", "f1", "--name", "r1", "--json")
    assert rec.code == 0, rec.err
    assert rec.json()["outputs"] == edited  # the edited code ran, as a recover after a fix does

    flow.write_text(FLOW)  # back to the launched code
    fresh = cli("run", "--json", str(flow), workflow)
    assert fresh.code == 0, fresh.err
    # Before: the edited code's result, a cache hit under the launched code's version.
    assert fresh.json()["outputs"] == launched
    caches = {n["task"]: n["cache"] for n in fresh.json()["nodes"]}
    assert caches.get("flow.scale") != "hit", caches
    events = cli("executions", "show", "r1", "--events")
    assert "not cached: the task's code is version" in " ".join(events.out.split()), events.out
