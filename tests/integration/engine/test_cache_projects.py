"""The local engine keeps each project's cache entries its own: two projects (``AIRFOIL_PROJECT``)
on one ``AIRFOIL_HOME`` run the same cached code with the same inputs, as a workflow's node,
a task a task calls and a ``@dynamic`` child, and neither hits the other's entries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

FLOW = textwrap.dedent(
    """
    import airfoil as af

    @af.task(cache=True)
    def cube(x: int) -> int:
        return x * x * x

    @af.task
    def outer(x: int) -> int:
        return cube(x=x + 100)

    @af.dynamic
    def dyn(x: int) -> int:
        return cube(x=x + 200)

    @af.task
    def add(a: int, b: int, c: int) -> int:
        return a + b + c

    @af.workflow
    def wf(x: int = 2) -> int:
        return add(a=cube(x=x), b=outer(x=x), c=dyn(x=x))
    """
)


def _run(project: Path, home: Path, name: str) -> tuple[Any, list[str]]:
    env = dict(os.environ, AIRFOIL_HOME=str(home), AIRFOIL_PROJECT=name)
    proc = subprocess.run(
        [sys.executable, "-m", "airfoil.cli", "run", "--json", "flow.py", "wf"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["phase"] == "succeeded", out
    cached = [n["cache"] for n in out["nodes"] if n.get("cache") not in (None, "disabled")]
    return out["outputs"]["o0"], cached


def test_two_projects_on_one_home_never_share_an_entry(tmp_path: Path) -> None:
    project, home = tmp_path / "proj", tmp_path / "home"
    project.mkdir()
    (project / "flow.py").write_text(FLOW)
    expected = 2**3 + 102**3 + 202**3
    out, beta = _run(project, home, "beta")
    assert out == expected and len(beta) == 3 and set(beta) == {"put"}, beta
    out, alpha = _run(project, home, "alpha")
    assert out == expected and alpha == beta, alpha  # every one run again
    out, again = _run(project, home, "alpha")
    assert out == expected and again == ["hit"] * 3, again  # alpha's own entries
