"""Execution names are per project on the local CLI too: two projects (``AIRFOIL_PROJECT``)
sharing one ``$AIRFOIL_HOME`` each run a ``nightly-1``; every command finds the caller's own,
and none reaches the other project's by its name or its id."""

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


FLYTE_FLOW = textwrap.dedent(
    """
    from flytekit import current_context, task, workflow


    @task
    def where() -> str:
        e = current_context().execution_id
        return f"{e.project}/{e.domain}/{e.name}"


    @workflow
    def wf() -> str:
        return where()
    """
)


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_flytekit_execution_id_is_the_runs_project_domain_and_name(
    cli: Any, tmp_path: Path, executor: str
) -> None:
    """flytekit's ``current_context().execution_id`` names the run as its project does:
    on main it was always ``default/development/<global id>``."""
    flow = tmp_path / "flyte_flow.py"
    flow.write_text(FLYTE_FLOW.replace("from flytekit", "from airfoil.compat.flytekit"))
    staging = {"AIRFOIL_PROJECT": "alpha", "AIRFOIL_DOMAIN": "staging"}
    for env in (staging, BETA):
        r = cli("run", "-e", executor, "--name", "nightly-1", "--json", str(flow), "wf", env=env)
        assert r.code == 0, r.err
        domain = env.get("AIRFOIL_DOMAIN", "development")
        assert r.json()["outputs"] == {"o0": f"{env['AIRFOIL_PROJECT']}/{domain}/nightly-1"}
        # what the task was told is what the project's commands take
        shown = cli("executions", "show", "nightly-1", "--json", env=env).json()
        assert shown["execution_id"] == r.json()["execution_id"]
    unnamed = cli("run", "-e", executor, "--json", str(flow), "wf", env=ALPHA)
    assert unnamed.code == 0, unnamed.err
    eid = unnamed.json()["execution_id"]
    assert unnamed.json()["outputs"] == {"o0": f"alpha/development/{eid}"}  # named by its id


CACHED_FLOW = textwrap.dedent(
    """
    import airfoil as af


    @af.task(cache=True)
    def square(x: int) -> int:
        return x * x


    @af.workflow
    def sq(x: int = 3) -> int:
        return square(x=x)


    @af.task
    def parse(row: int) -> int:
        raise ValueError(f"row {row} is malformed")


    @af.workflow
    def ingest(row: int = 1) -> int:
        return parse(row=row)
    """
)


def test_failures_and_cache_name_runs_as_the_project_does(cli: Any, tmp_path: Path) -> None:
    """``failures`` and ``cache explain`` / ``cache list`` / ``executions show`` name a run by
    its name in AIRFOIL_PROJECT (main: by its global id), for two projects using the same
    names; what is shown is what the project's commands take."""
    flow = tmp_path / "cached.py"
    flow.write_text(CACHED_FLOW)
    ids: dict[str, dict[str, str]] = {}
    for env in (ALPHA, BETA):
        mine = ids[env["AIRFOIL_PROJECT"]] = {}
        for name, wf in (("cache-a", "sq"), ("cache-b", "sq"), ("broken-1", "ingest")):
            r = cli("run", "--name", name, "--json", str(flow), wf, env=env)
            assert (r.code == 0) == (wf == "sq"), r.err
            shown = cli("executions", "show", name, "--json", env=env).json()
            mine[name] = shown["execution_id"]
    for env in (ALPHA, BETA):
        mine = ids[env["AIRFOIL_PROJECT"]]
        others = [eid for p, d in ids.items() if p != env["AIRFOIL_PROJECT"] for eid in d.values()]
        groups = cli("failures", "--json", env=env).json()
        (group,) = groups
        assert group["example"]["execution_name"] == "broken-1"
        assert group["example"]["execution_id"] == mine["broken-1"]
        text = cli("failures", env=env).out
        assert "latest broken-1 n0" in text, text
        drill = cli("failures", "--signature", group["signature"], env=env).out
        assert "broken-1  n0" in drill, drill
        why = cli("cache", "explain", "cache-b", "n0", "--json", env=env).json()
        assert why["entry_now"]["execution_name"] == "cache-a"
        assert why["execution_name"] == "cache-b" and "execution cache-a node" in why["reason"]
        told = cli("cache", "explain", "cache-b", "n0", env=env).out
        assert "from cache-a/n0" in told and "execution cache-a node n0" in told, told
        shown = cli("executions", "show", "cache-b", "--json", "--events", env=env).json()
        assert "execution cache-a node n0" in shown["nodes"][0]["cache_reason"]
        assert any("execution cache-a node n0" in e["cause"] for e in shown["events"])
        listed = cli("cache", "list", "--json", env=env).json()
        assert {e["execution_name"] for e in listed} >= {"cache-a"}
        everything = " ".join(
            (text, drill, told, json.dumps(groups), json.dumps(why), json.dumps(shown))
        )
        assert not any(eid in everything for eid in others)


def test_a_name_that_is_another_runs_id_is_refused_in_its_project(cli: Any, tmp_path: Path) -> None:
    """Commands resolve a name before an id: a run named as another run's id would hide that
    run from every command taking its id (main: launched, and the id then showed the new
    run). Another project may use the text as a name: it names nothing of alpha's."""
    flow = tmp_path / "cached.py"
    flow.write_text(CACHED_FLOW)
    first = cli("run", "--name", "cache-a", "--json", str(flow), "sq", env=ALPHA)
    assert first.code == 0, first.err
    eid = first.json()["execution_id"]
    taken = cli("run", "--name", eid, str(flow), "sq", env=ALPHA)
    assert taken.code != 0 and "is the id of another execution" in taken.err, taken.err
    assert cli("executions", "show", eid, "--json", env=ALPHA).json()["name"] == "cache-a"
    free = cli("run", "--name", eid, "--json", str(flow), "sq", env=BETA)
    assert free.code == 0, free.err
    assert free.json()["name"] == eid and free.json()["execution_id"] != eid


def test_the_runs_table_shows_the_projects_runs_each_in_its_domain(
    cli: Any, tmp_path: Path
) -> None:
    """``airfoil runs`` lists AIRFOIL_PROJECT's runs only (main: every project's, so a row
    named a run of beta's that alpha's commands then could not open, or opened alpha's own
    run of that name) and prints one outside AIRFOIL_DOMAIN as ``NAME (DOMAIN)``, which
    ``--domain DOMAIN`` opens."""
    flow = tmp_path / "greet.py"
    flow.write_text(FLOW)
    staging = {**ALPHA, "AIRFOIL_DOMAIN": "staging"}
    ids = {}
    for env, word in ((ALPHA, "a"), (staging, "s"), (BETA, "b")):
        ran = cli("run", "--name", "twin", "--json", str(flow), "greet", "--word", word, env=env)
        assert ran.code == 0, ran.err
        ids[word] = ran.json()["execution_id"]
    table = cli("runs", "greet.greet", "--json", env=ALPHA)
    assert table.code == 0, table.err
    rows = {(r["id"], r["domain"]): r["inputs"]["word"] for r in table.json()["rows"]}
    assert rows == {("twin", "development"): '"a"', ("twin", "staging"): '"s"'}
    printed = cli("runs", "greet.greet", env=ALPHA).out
    assert "twin (staging)" in printed and '"b"' not in printed
    only = cli("runs", "greet.greet", "--domain", "staging", "--json", env=ALPHA).json()
    assert [(r["id"], r["domain"]) for r in only["rows"]] == [("twin", "staging")]
    shown = cli("executions", "show", "twin", "--domain", "staging", "--json", env=ALPHA)
    assert shown.json()["execution_id"] == ids["s"]
    c = cli("compare", "twin", "twin", "--domain-b", "staging", "--json", env=ALPHA).json()
    assert (c["a"], c["b"]) == (ids["a"], ids["s"])
    assert cli("runs", "greet.greet", "--json", env=BETA).json()["total"] == 1


def test_a_local_run_in_a_domain_or_project_a_server_refuses_is_refused(
    cli: Any, tmp_path: Path
) -> None:
    """AIRFOIL_DOMAIN=bogus ran and recorded the run (and its cache entries) in a domain of
    its own; a server answers 422. Now the CLI stops first, naming the setting and the fix,
    and records nothing."""
    flow = tmp_path / "greet.py"
    flow.write_text(FLOW)
    for env, says in (
        (
            {"AIRFOIL_DOMAIN": "bogus"},
            "bad AIRFOIL_DOMAIN setting: unknown domain 'bogus': use one",
        ),
        ({"AIRFOIL_PROJECT": "team/a"}, "bad AIRFOIL_PROJECT setting: invalid project name"),
    ):
        r = cli("run", str(flow), "greet", env=env)
        assert r.code != 0 and says in r.err and "Traceback" not in r.err, (r.out, r.err)
    assert cli("executions", "list", "--json").json() == []
    ok = cli("run", "--json", str(flow), "greet", env={"AIRFOIL_DOMAIN": "staging"})
    assert ok.code == 0, ok.err
    assert (ok.json()["project"], ok.json()["domain"]) == ("default", "staging")
    listed = cli("executions", "list", "--json", env={"AIRFOIL_DOMAIN": "staging"}).json()
    assert [(e["name"], e["domain"]) for e in listed] == [(ok.json()["name"], "staging")]
