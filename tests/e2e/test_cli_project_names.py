"""Execution names are per project on the local CLI too: two projects (``AIRFOIL_PROJECT``)
sharing one ``$AIRFOIL_HOME`` each run a ``nightly-1``; every command finds the caller's own,
and none reaches the other project's by its name or its id."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

FLOW = textwrap.dedent(
    """
    import airfoil as af


    @af.task
    def shout(word: str) -> str:
        print("shouting", word)
        return word.upper()


    @af.workflow
    def greet(word: str = "hi") -> str:
        return shout(word=word)
    """
)

ALPHA, BETA = {"AIRFOIL_PROJECT": "alpha"}, {"AIRFOIL_PROJECT": "beta"}


def test_two_projects_run_one_name_and_each_reaches_its_own(cli: Any, tmp_path: Path) -> None:
    flow = tmp_path / "greet.py"
    flow.write_text(FLOW)
    a = cli("run", "--name", "nightly-1", "--json", str(flow), "greet", "--word", "a", env=ALPHA)
    assert a.code == 0, a.err
    # main: "an execution named 'nightly-1' already exists ... resume nightly-1"
    b = cli("run", "--name", "nightly-1", "--json", str(flow), "greet", "--word", "b", env=BETA)
    assert b.code == 0, b.err
    alpha_id, beta_id = a.json()["execution_id"], b.json()["execution_id"]
    assert alpha_id != beta_id and a.json()["name"] == b.json()["name"] == "nightly-1"
    for env, eid, word in ((ALPHA, alpha_id, "a"), (BETA, beta_id, "b")):
        shown = cli("executions", "show", "nightly-1", "--json", env=env).json()
        assert (shown["execution_id"], shown["outputs"]) == (eid, {"o0": word.upper()})
        assert f"shouting {word}" in cli("logs", "nightly-1", "n0", env=env).out
        listed = cli("executions", "list", "--json", env=env).json()
        assert [e["execution_id"] for e in listed] == [eid]
    # a name taken in one's own project only
    again = cli("run", "--name", "nightly-1", str(flow), "greet", env=BETA)
    assert again.code != 0 and "already exists in project 'beta'" in again.err
    assert "resume nightly-1" in again.err
    # beta reaches nothing of alpha's, by alpha's id either
    for command in (
        ("executions", "show", alpha_id),
        ("logs", alpha_id, "n0"),
        ("executions", "relaunch", alpha_id),
        ("executions", "recover", alpha_id),
        ("executions", "abort", alpha_id),
        ("signal", alpha_id, "ship", "true"),
        ("compare", alpha_id, "nightly-1"),
        ("cache", "explain", alpha_id, "n0"),
    ):
        r = cli(*command, env=BETA)
        assert r.code != 0 and "does not exist in project 'beta'" in r.err, (command, r.err)
    # relaunching by name acts on the caller's own execution
    again = cli("executions", "relaunch", "nightly-1", "--json", env=BETA)
    assert again.code == 0, again.err
    assert again.json()["outputs"] == {"o0": "B"}  # beta's inputs
    assert again.json()["execution_id"] not in (alpha_id, beta_id)
    assert cli("executions", "show", alpha_id, "--json", env=ALPHA).json()["phase"] == "succeeded"
