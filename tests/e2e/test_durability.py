"""`AIRFOIL_DURABILITY=power` end to end, on both executors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

FLOW = textwrap.dedent(
    """
    import airfoil as af

    @af.task(cache=True)
    def big(n: int) -> list[int]:
        return list(range(n))

    @af.task
    def total(xs: list[int]) -> int:
        return sum(xs)

    @af.workflow
    def wf(n: int = 40000) -> int:
        return total(xs=big(n=n))
    """
)


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_power_durability_runs_and_caches(cli: Any, tmp_path: Path, executor: str) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    env = {"AIRFOIL_DURABILITY": "power", "AIRFOIL_EXECUTOR": executor}
    first = cli("run", "--json", "flow.py", "wf", env=env)
    assert first.code == 0, first.err
    assert json.loads(first.out)["outputs"] == {"o0": sum(range(40000))}
    second = json.loads(cli("run", "--json", "flow.py", "wf", env=env).out)
    assert [n["cache"] for n in second["nodes"] if n["id"] == "n0"] == ["hit"]
    bad = cli("run", "flow.py", "wf", env={"AIRFOIL_DURABILITY": "disk"})
    assert bad.code != 0 and "DURABILITY" in bad.err
