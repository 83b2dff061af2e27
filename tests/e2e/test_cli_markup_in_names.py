"""Names a user chose are printed as they are: a task named with Rich markup in it
(``[bold red]``, ``[/]``, ``[link=...]``) was parsed in every table cell of the CLI, so
``airfoil executions show`` and ``airfoil cache list`` printed another name than the task's
(the markup stripped, or a clickable link a terminal would follow). Fails on main: the tables
showed ``ty`` and ``odd.ty``, without the brackets."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SHORT = "[bold red]t[/][link=https://example/x]y"
NAME = "odd." + SHORT

FLOW = textwrap.dedent(
    f"""
    import airfoil as af

    @af.task(cache=True, name={NAME!r})
    def t(x: int) -> int:
        return x + 1

    @af.workflow
    def wf(x: int = 1) -> int:
        return t(x=x)
    """
)


def _airfoil(cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AIRFOIL_HOME=str(home), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "airfoil.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def test_a_task_name_with_markup_is_printed_as_it_is(tmp_path: Path) -> None:
    project, home = tmp_path / "proj", tmp_path / "home"
    project.mkdir()
    (project / "flow.py").write_text(FLOW)
    ran = _airfoil(project, home, "run", "--name", "r1", "flow.py", "wf")
    assert ran.returncode == 0, ran.stderr
    # executions show names a node's task by the last part of its name
    for args, shown in ((("executions", "show", "r1"), SHORT), (("cache", "list"), NAME)):
        out = _airfoil(project, home, *args)
        assert out.returncode == 0, out.stderr
        assert shown in out.stdout, (args, out.stdout)
