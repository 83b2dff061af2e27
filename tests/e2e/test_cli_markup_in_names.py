"""Names a user chose are printed as they are: a task named with Rich markup in it
(``[bold red]``, ``[/]``, ``[link=...]``) was parsed in every table cell of the CLI, so
``airfoil executions show`` and ``airfoil cache list`` printed another name than the task's
(the markup stripped, or a clickable link a terminal would follow). Fails on main: the tables
showed ``ty`` and ``odd.ty``, without the brackets.

The lines outside tables too: ``cache explain`` (the task), ``quotas set/delete`` (the
project), ``schedules activate/deactivate`` (the launch plan) printed f-strings with
``[bold]`` around the name, so the name's own markup was parsed (``quota of odd.ty``); and
``cache scopes list`` escaped its cells for a table that prints them as they are (a
description showed ``\\[bold red]``). Each case fails on integ at 53332d9e."""

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
    import datetime as dt

    import airfoil as af
    from airfoil.sdk._launch_plan import FixedRate, LaunchPlan

    @af.task(cache=True, name={NAME!r})
    def t(x: int) -> int:
        return x + 1

    @af.workflow
    def wf(x: int = 1) -> int:
        return t(x=x)

    hourly = LaunchPlan.get_or_create(wf, {NAME!r}, schedule=FixedRate(dt.timedelta(hours=1)))
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


# (commands run first, the command, what it prints: on stdout or stderr)
LINES = {
    "cache explain": (
        [("run", "--name", "r1", "flow.py", "wf")],
        ("cache", "explain", "r1", "n0"),
        f"({NAME})",
    ),
    "quotas set": ([], ("quotas", "set", NAME, "--cpu", "1"), f"quota of {NAME}: cpu=1"),
    "quotas delete": (
        [("quotas", "set", NAME, "--cpu", "1")],
        ("quotas", "delete", NAME),
        f"quota of {NAME} removed",
    ),
    "schedules activate": (
        [],
        ("schedules", "activate", "flow.py", NAME),
        f"schedule {NAME} active",
    ),
    # a table's cells are printed as they are: an escape() before showed "\\[bold red]"
    "cache scopes list": (
        [("cache", "scopes", "create", "team", "--description", SHORT)],
        ("cache", "scopes", "list"),
        f" {SHORT} ",
    ),
    "schedules deactivate": (
        [("schedules", "activate", "flow.py", NAME)],
        ("schedules", "deactivate", NAME),
        f"schedule {NAME} deactivated",
    ),
}


@pytest.mark.parametrize("case", list(LINES))
def test_a_name_with_markup_is_printed_as_it_is_outside_tables(
    cli: Callable[..., Any], tmp_path: Path, case: str
) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    before, args, shown = LINES[case]
    for step in before:
        done = cli(*step)
        assert done.code == 0, (step, done.err)
    out = cli(*args)
    assert out.code == 0, out.err
    assert shown in out.out + out.err, (args, out.out, out.err)


def test_cache_scope_and_project_names_with_markup(cli: Callable[..., Any]) -> None:
    """``cache scopes``' lines name the scope and the project: a name with markup in it is
    not a scope's or a project's name (the store refuses it), and the refusal shows it as it
    is; the lines of a valid scope name it and its members as they are (built with
    ``say()``, not an f-string of markup with ``escape()`` around the names)."""
    steps = (
        (("create", SHORT), f"invalid cache scope name {SHORT!r}"),
        (("create", "team.x"), "cache scope team.x: no members (grant with"),
        (("grant", "team.x", SHORT), f"invalid project {SHORT!r}"),
        (("grant", "team.x", "data-eng", "--read"), "cache scope team.x: data-eng (read)"),
        (("revoke", "team.x", SHORT), f"project {SHORT!r} is no member of cache scope 'team.x'"),
        (("revoke", "team.x", "data-eng"), "cache scope team.x: no members"),
        (("delete", SHORT, "--yes"), f"no cache scope {SHORT!r}"),
        (("delete", "team.x", "--yes"), "cache scope team.x deleted"),
    )
    for args, shown in steps:
        out = cli("cache", "scopes", *args)
        assert shown in out.err, (args, out.err)
        assert out.code == (2 if SHORT in args else 0), (args, out.err)


def test_names_with_markup_are_printed_as_they_are_against_a_server(tmp_path: Path) -> None:
    """``register`` names each task and launch plan it registers on a real ``airfoil server
    start`` (integ at 53332d9e: ``task odd.ty``). Run names cannot hold brackets (the
    server refuses them), so ``run --remote``'s lines are not at risk."""
    from _serve import Server

    (tmp_path / "flow.py").write_text(FLOW)
    srv = Server(tmp_path / "home", tmp_path)
    try:
        reg = srv.cli("register", "flow.py", "--server", srv.url)
        assert reg.returncode == 0, reg.stderr
        assert f"task {NAME} version" in reg.stderr, reg.stderr
        assert f"launch plan {NAME} version" in reg.stderr, reg.stderr
    finally:
        srv.stop()
