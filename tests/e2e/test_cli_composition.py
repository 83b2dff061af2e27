"""The CLI on a run whose task calls a workflow: one execution, the called workflow shown
under its caller (before, `executions list` showed a second, unlinked execution)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

SCRIPT = textwrap.dedent(
    """
    import airfoil as af

    @af.task
    def double(x: int) -> int:
        return 2 * x

    @af.task
    def check(x: int) -> int:
        if x > 10:
            raise ValueError(f"{x} is too big")
        return x

    @af.workflow
    def quadruple(x: int) -> int:
        return double(x=check(x=double(x=x)))

    @af.task
    def caller(xs: list[int]) -> int:
        total = 0
        for x in xs:
            try:
                total += quadruple(x=x)
            except ValueError:
                total -= 1
        return total
    """
)


def test_a_called_workflow_is_shown_under_its_caller(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "calls.py"
    path.write_text(SCRIPT)
    r = cli("run", "--name", "c1", str(path), "caller", "--xs", "[1, 9]")
    assert r.code == 0, r.err
    listed = cli("executions", "list", "--json").json()
    assert [e["name"] for e in listed] == ["c1"], "no second execution"
    nodes = cli("executions", "show", "c1", "--json").json()["nodes"]
    by_id = {n["id"]: n for n in nodes}
    called = [n for n in nodes if n["kind"] == "child"]
    assert len(called) == 2 and all(n["task"] == "calls.quadruple" for n in called)
    assert all(n["id"].startswith("n0.call") for n in called)
    ok, bad = sorted(called, key=lambda n: n["phase"], reverse=True)
    assert (ok["phase"], bad["phase"]) == ("succeeded", "failed")
    assert [by_id[f"{ok['id']}.n{i}"]["phase"] for i in range(3)] == ["succeeded"] * 3
    assert [by_id[f"{bad['id']}.n{i}"]["phase"] for i in range(3)] == [
        "succeeded",
        "failed",
        "aborted",
    ]
    assert bad["error"] is not None and "is too big" in bad["error"]["message"]
    text = cli("executions", "show", "c1")
    assert text.code == 0
    lines = text.out.splitlines()
    row = next(i for i, line in enumerate(lines) if ok["id"] + " " in line)
    assert "calls.quadruple" in lines[row]
    # the called workflow's nodes follow it, indented under it
    assert f"{ok['id']}.n0" in lines[row + 1]
    indent = lines[row].index(ok["id"])
    assert lines[row + 1].index(f"{ok['id']}.n0") > indent
