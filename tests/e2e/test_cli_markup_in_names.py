"""Names a user chose are printed as they are: a task named with Rich markup in it
(``[bold red]``, ``[/]``, ``[link=...]``) was parsed in every table cell of the CLI, so
``airfoil executions show`` and ``airfoil cache list`` printed another name than the task's
(the markup stripped, or a clickable link a terminal would follow). Fails on main: the tables
showed ``ty`` and ``odd.ty``, without the brackets."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def test_a_task_name_with_markup_is_printed_as_it_is(
    cli: Callable[..., Any], tmp_path: Path
) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    ran = cli("run", "--name", "r1", "flow.py", "wf")
    assert ran.code == 0, ran.err
    # executions show names a node's task by the last part of its name
    for args, shown in ((("executions", "show", "r1"), SHORT), (("cache", "list"), NAME)):
        out = cli(*args)
        assert out.code == 0, out.err
        assert shown in out.out, (args, out.out)
