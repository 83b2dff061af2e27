"""The CLI as a user types it."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

PIPELINE = textwrap.dedent(
    """
    import pandas as pd
    import airfoil as af

    @af.task(cache=True)
    def load(n: int) -> pd.DataFrame:
        print(f"loading {n} rows")
        return pd.DataFrame({"x": range(n)})

    @af.task
    def stats(df: pd.DataFrame, scale: float = 1.0) -> dict[str, float]:
        af.current_context().logger.info("computing stats of %d rows", len(df))
        return {"mean": float(df["x"].mean()) * scale, "n": float(len(df))}

    @af.task
    def boom(x: int) -> int:
        raise ValueError(f"bad x {x}")

    @af.workflow
    def pipeline(n: int = 100, scale: float = 1.0) -> dict[str, float]:
        return stats(df=load(n=n), scale=scale)

    @af.workflow
    def broken(x: int = 1) -> int:
        return boom(x=x)
    """
)


@pytest.fixture
def pipeline_file(tmp_path: Path) -> str:
    path = tmp_path / "pipeline.py"
    path.write_text(PIPELINE)
    return str(path)


def test_run_json_shape_and_exit_code(cli: Any, pipeline_file: str) -> None:
    r = cli("run", "--json", pipeline_file, "pipeline", "--n", "10")
    assert r.code == 0, r.err
    data = r.json()
    assert set(data) >= {"execution_id", "phase", "outputs", "nodes"}
    assert data["phase"] == "succeeded"
    assert data["outputs"] == {"o0": {"mean": 4.5, "n": 10.0}}
    assert [(n["id"], n["phase"], n["attempts"], n["cache"]) for n in data["nodes"]] == [
        ("n0", "succeeded", 1, "put"),
        ("n1", "succeeded", 1, "disabled"),
    ]
    assert all(isinstance(n["duration_s"], float) for n in data["nodes"])
    again = cli("run", "--json", pipeline_file, "pipeline", "--n", "10").json()
    assert again["nodes"][0]["cache"] == "hit"
    assert again["nodes"][0]["attempts"] == 0


def test_run_named_execution_and_show_list_logs(cli: Any, pipeline_file: str) -> None:
    r = cli("run", "--name", "my-run", pipeline_file, "pipeline", "--n=5", "--scale", "2")
    assert r.code == 0, r.err
    assert "my-run" in r.err and "succeeded" in r.err
    shown = cli("executions", "show", "my-run", "--json").json()
    assert shown["name"] == "my-run" and shown["outputs"]["o0"]["mean"] == 4.0
    listed = cli("executions", "list", "--json").json()
    assert [e["name"] for e in listed] == ["my-run"]
    text = cli("executions", "show", "my-run", "--events")
    assert text.code == 0 and "inputs ready" in text.out
    # an attempt's entry names its try (two tries of a node read as two)
    assert re.search(r" attempt +n1 #1 - -> succeeded", text.out), text.out
    events = cli("executions", "show", "my-run", "--events", "--json").json()["events"]
    by_seq = {e["seq"]: e for e in events}
    done = next(e for e in events if (e["kind"], e["node"], e["to"]) == ("node", "n1", "succeeded"))
    assert by_seq[done["cause_id"]]["to"] == "succeeded"  # n1's attempt result
    assert by_seq[done["cause_id"]]["kind"] == "attempt"
    logs = cli("logs", "my-run", "n0")
    assert "loading 5 rows" in logs.out
    logs_all = cli("logs", "my-run")
    assert "computing stats of 5 rows" in logs_all.out
    dup = cli("run", "--name", "my-run", pipeline_file, "pipeline")
    assert dup.code != 0 and "already exists" in dup.err


def test_aborting_an_ended_execution_says_so(cli: Any, pipeline_file: str) -> None:
    """As the server answers (409, "already ended"); on main the local command printed
    "execution ... succeeded" with exit code 0, as if it had done something."""
    r = cli("run", "--name", "done-run", pipeline_file, "pipeline", "--n", "3")
    assert r.code == 0, r.err
    aborted = cli("executions", "abort", "done-run")
    assert aborted.code == 2, (aborted.out, aborted.err)
    assert "execution done-run already ended (succeeded): nothing to abort" in aborted.err
    shown = cli("executions", "show", "done-run", "--json").json()
    assert shown["phase"] == "succeeded"


def test_failed_run_exit_code_and_traceback(cli: Any, pipeline_file: str) -> None:
    r = cli("run", "--json", pipeline_file, "broken", "--x", "3")
    assert r.code == 1
    data = r.json()
    assert data["phase"] == "failed"
    assert data["error"]["type"] == "ValueError" and "bad x 3" in data["error"]["message"]
    assert "raise ValueError" in data["error"]["traceback"]
    human = cli("run", pipeline_file, "broken")
    assert human.code == 1 and "ValueError" in human.err and "Traceback" in human.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "missing.py", "pipeline"], "no such file"),
        (["run", "{file}", "nope"], "no task or workflow named 'nope'"),
        (["run", "{file}", "pipeline", "--n", "ten"], "expects int"),
        (["run", "{file}", "pipeline", "--bogus", "1"], "has no input '--bogus'"),
        (["run", "{file}", "pipeline", "--n"], "needs a value"),
        (["run", "--executor", "gpu", "{file}", "pipeline"], "unknown executor"),
        (
            ["run", "--executor", "ray", "--ray-address", "127.0.0.1:1", "{file}", "pipeline"],
            "nothing answers at the Ray address '127.0.0.1:1'",
        ),
        (
            ["run", "--executor", "ray", "--ray-address", "nohost", "{file}", "pipeline"],
            "invalid Ray address 'nohost'",
        ),
        (["run", "--name", "Bad Id!", "{file}", "pipeline"], "invalid execution id"),
        (["executions", "show", "nope"], "nope"),
        (["cache", "explain", "nope", "n0"], "nope"),
    ],
)
def test_bad_arguments_get_a_message_not_a_traceback(
    cli: Any, pipeline_file: str, args: list[str], message: str
) -> None:
    r = cli(*[a.replace("{file}", pipeline_file) for a in args])
    assert r.code != 0
    assert message in r.err
    assert "Traceback" not in r.err


def test_cache_list_explain_clear(cli: Any, pipeline_file: str) -> None:
    first = cli("run", "--json", pipeline_file, "pipeline", "--n", "4").json()
    second = cli("run", "--json", pipeline_file, "pipeline", "--n", "6").json()
    entries = cli("cache", "list", "--json").json()
    assert len(entries) == 2 and all(e["task"].endswith("pipeline.load") for e in entries)
    why = cli("cache", "explain", second["execution_id"], "n0")
    assert why.code == 0 and "input 'n' changed" in why.out
    hit = cli("run", "--json", pipeline_file, "pipeline", "--n", "4").json()
    why_hit = cli("cache", "explain", hit["execution_id"], "n0")
    assert "hit" in why_hit.out and first["execution_id"] in why_hit.out
    off = cli("cache", "explain", hit["execution_id"], "n1")
    assert "caching is off" in off.out
    cleared = cli("cache", "clear", "--task", entries[0]["task"], "--yes")
    assert cleared.code == 0 and "deleted 2" in cleared.err
    assert cli("cache", "list", "--json").json() == []


RECOVER_FLOW = textwrap.dedent(
    """
    import os
    import airfoil as af

    LOG = os.environ["RUN_LOG"]

    def mark(x):
        with open(LOG, "a") as fh:
            fh.write(x + "\\n")

    @af.task
    def first(x: int) -> int:
        mark("first")
        return x + 1

    @af.task
    def second(x: int) -> int:
        mark("second")
        if not os.path.exists(LOG + ".fixed"):
            raise RuntimeError("not yet")
        return x * 10

    @af.workflow
    def wf(x: int = 1) -> int:
        return second(x=first(x=x))
    """
)


def test_recover_reuses_succeeded_nodes_and_relaunch_reruns(cli: Any, tmp_path: Path) -> None:
    flow = tmp_path / "recover_flow.py"
    flow.write_text(RECOVER_FLOW)
    log = tmp_path / "runs.log"
    env = {"RUN_LOG": str(log)}
    failed = cli("run", "--name", "r1", "--json", str(flow), "wf", env=env)
    assert failed.code == 1
    not_failed = cli("executions", "recover", "nope", env=env)
    assert not_failed.code == 2
    (tmp_path / "runs.log.fixed").write_text("")
    rec = cli("executions", "recover", "r1", "--name", "r2", "--json", env=env)
    assert rec.code == 0, rec.err
    data = rec.json()
    assert data["outputs"] == {"o0": 20}
    assert [n["attempts"] for n in data["nodes"]] == [0, 1]
    assert log.read_text().splitlines() == ["first", "second", "second"]
    again = cli("executions", "recover", "r2", env=env)
    assert again.code == 2 and "only failed or aborted" in again.err
    re = cli("executions", "relaunch", "r2", "--json", env=env)
    assert re.code == 0 and re.json()["outputs"] == {"o0": 20}
    assert log.read_text().splitlines()[-2:] == ["first", "second"]


@pytest.mark.parametrize("remote", [False, True])
def test_listing_an_unknown_phase_is_an_error_not_an_empty_list(cli: Any, remote: bool) -> None:
    """On main `executions list --phase faild` printed an empty table and "no executions yet"
    with exit code 0: a typo read as "nothing failed"."""
    extra = ["--server", "http://127.0.0.1:9"] if remote else []  # refused before any call
    r = cli("executions", "list", "--phase", "faild", *extra)
    assert r.code == 2, (r.out, r.err)
    assert "unknown phase 'faild': use one of queued, running, succeeded, failed, aborted" in r.err
    if remote:
        r = cli("executions", "list", "--phase", "interrupted", *extra)
        assert r.code == 2 and "use --phase running" in r.err, r.err


MAP_FLOW = textwrap.dedent(
    """
    import airfoil as af


    @af.task(cache=True)
    def square(x: int) -> int:
        return x * x


    @af.workflow
    def squares(xs: list[int]) -> list[int]:
        return af.map_task(square)(x=xs)
    """
)


RETRIED_MAP_FLOW = textwrap.dedent(
    """
    import airfoil as af


    @af.task(retries=1)
    def item(i: int) -> int:
        if i == 3 and af.current_context().attempt == 1:
            raise ValueError("item 3 fails once")
        return i


    @af.workflow
    def mapped(xs: list[int]) -> list[int]:
        return af.map_task(item)(i=xs)
    """
)


def test_executions_show_counts_a_maps_tries_over_its_items(cli: Any, tmp_path: Path) -> None:
    """A map node's attempts column was empty; it shows the tries over all items (4 items and
    one retry: 5), as ``--json`` and the console do."""
    flow = tmp_path / "mapped.py"
    flow.write_text(RETRIED_MAP_FLOW)
    ran = cli("run", "--name", "m1", str(flow), "mapped", "--xs", "[1, 2, 3, 4]")
    assert ran.code == 0, ran.err
    shown = cli("executions", "show", "m1")
    assert shown.code == 0, shown.err
    (row,) = [line for line in shown.out.splitlines() if " n0 " in line]
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[:4] == ["n0", "item", "succeeded", "5"], cells
    js = cli("executions", "show", "m1", "--json").json()
    assert [n["attempts"] for n in js["nodes"] if n["id"] == "n0"] == [5]


def test_a_map_partly_served_from_the_cache_says_partial(cli: Any, tmp_path: Path) -> None:
    """A map 3 of whose 4 items came from the cache read `cache: miss` (as if none had), and
    `cache explain` said its node 'did not get its inputs'; it is `partial`, with the count,
    and the explanation says a map is cached item by item."""
    flow = tmp_path / "squares.py"
    flow.write_text(MAP_FLOW)
    assert cli("run", str(flow), "squares", "--xs", "[1, 2, 3]").code == 0
    again = cli("run", "--json", str(flow), "squares", "--xs", "[1, 2, 3, 4]")
    assert again.code == 0, again.err
    node = next(n for n in again.json()["nodes"] if n["id"] == "n0")
    assert node["cache"] == "partial", node
    why = cli("cache", "explain", again.json()["execution_id"], "n0")
    assert why.code == 0, why.err
    assert "cache partial" in why.out and "3 of 4 items were served from the cache" in why.out
    assert "each item is cached under its own inputs' key" in why.out
    assert "did not get its inputs" not in why.out
    whole = cli("run", "--json", str(flow), "squares", "--xs", "[4, 3]")
    assert next(n for n in whole.json()["nodes"] if n["id"] == "n0")["cache"] == "hit"
