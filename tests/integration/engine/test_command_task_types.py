"""The shell, SQL and container task types (``af.shell_task``, ``af.sql_task``,
``af.container_task``): typed inputs placed in the script / query / command, typed outputs,
failures as user errors naming what failed, the config in the version and cache key, and the
same results on the inline and process executors (run as a user runs them, through the CLI,
whose ``executions show`` names each node's type)."""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import airfoil as af
from airfoil.core.errors import DefinitionError, ExecutionFailedError

pytestmark = pytest.mark.integration

HAS_DUCKDB = importlib.util.find_spec("duckdb") is not None

# -- shell -------------------------------------------------------------------------------------

stats = af.shell_task(
    "stats",
    """
    set -e
    wc -l < {inputs.data} | tr -d ' ' > {outputs.lines}
    printf '%s' {inputs.who} > {outputs.greeting}
    mkdir -p {outputs.parts}
    split -l 1 {inputs.data} {outputs.parts}/part-
    cp {inputs.data} {outputs.copy}
    echo "done for" {inputs.who}
    """,
    inputs={"data": af.File, "who": str},
    outputs={
        "lines": int,
        "greeting": str,
        "parts": af.Directory,
        "copy": (af.File, "copies/{inputs.who}.txt"),
    },
)


@af.task
def make_file(text: str) -> af.File:
    path = os.path.join(af.current_context().scratch_dir, "data.txt")
    with open(path, "w") as f:
        f.write(text)
    return af.File(path)


@af.task
def describe(lines: int, greeting: str, parts: af.Directory, copy: af.File) -> str:
    names = sorted(os.listdir(parts.path))
    return f"{lines} {greeting} {len(names)} {copy.name} {Path(copy.path).read_text()!r}"


@af.workflow
def shell_flow(text: str, who: str) -> str:
    s = stats(data=make_file(text=text), who=who)
    return describe(lines=s.lines, greeting=s.greeting, parts=s.parts, copy=s.copy)


def test_a_shell_task_runs_its_script_with_typed_inputs_and_outputs() -> None:
    assert shell_flow(text="a\nb\nc\n", who="ada") == "3 ada 3 ada.txt 'a\\nb\\nc\\n'"
    spec = stats.spec
    assert spec.task_type == "shell"
    assert "wc -l" in spec.config["script"]
    assert [o["name"] for o in spec.config["outputs"]] == ["lines", "greeting", "parts", "copy"]


def test_input_values_are_shell_quoted(tmp_path: Path) -> None:
    echo = af.shell_task(
        "echo_name",
        "printf '%s' {inputs.name} > {outputs.out}",
        inputs={"name": str},
        outputs={"out": str},
    )
    bad = tmp_path / "pwned"
    hostile = f"o'brien; touch {bad}1 $(touch {bad}2) `touch {bad}3` > {bad}4"
    assert echo(name=hostile) == hostile
    assert not list(tmp_path.glob("pwned*"))


def test_a_failing_script_is_a_user_error_with_the_end_of_its_stderr() -> None:
    fails = af.shell_task(
        "fails", "echo noise; for i in $(seq 1 500); do echo line$i >&2; done; exit 3"
    )
    with pytest.raises(ExecutionFailedError) as info:
        fails()
    message = str(info.value)
    assert "shell task 'fails' exited with status 3" in message
    assert "line500" in message and "line1\n" not in message  # the tail, not all of it
    assert "UserError" in message


def test_an_output_the_script_did_not_write_is_named() -> None:
    lazy = af.shell_task("lazy", "true", outputs={"report": af.File})
    with pytest.raises(ExecutionFailedError, match="wrote no file at output 'report'"):
        lazy()
    bad_int = af.shell_task("bad_int", "echo twelve > {outputs.n}", outputs={"n": int})
    with pytest.raises(ExecutionFailedError, match=r"'twelve' is not an int"):
        bad_int()


def test_shell_declaration_errors_name_the_problem() -> None:
    with pytest.raises(DefinitionError, match=r"names \{inputs.nme\}.*its inputs \(name\)"):
        af.shell_task("typo", "echo {inputs.nme}", inputs={"name": str})
    with pytest.raises(DefinitionError, match=r"names \{outputs.res\}.*its outputs \(out\)"):
        af.shell_task("typo2", "echo > {outputs.res}", outputs={"out": af.File})
    with pytest.raises(DefinitionError, match="only inputs can be used there"):
        af.shell_task("loc", "true", outputs={"a": (af.File, "{outputs.a}.txt")})
    with pytest.raises(DefinitionError, match=r"output 'x' is a .*list"):
        af.shell_task("badtype", "true", outputs={"x": list})
    with pytest.raises(DefinitionError, match="the script is empty"):
        af.shell_task("empty", "  ")
    with pytest.raises(DefinitionError, match="give the task a name"):
        af.shell_task("", "true")


def test_the_script_is_part_of_the_version_and_the_cache_key(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"

    def counting(script_tail: str) -> af.TaskDef[..., int]:
        return af.shell_task(
            "counting",
            "echo x >> {inputs.marker}; echo 1 > {outputs.n}" + script_tail,
            inputs={"marker": str},
            outputs={"n": int},
            cache=True,
        )

    first = counting("")
    assert first(marker=str(marker)) == 1
    assert counting("")(marker=str(marker)) == 1  # same script: from the cache
    assert marker.read_text().count("x") == 1
    edited = counting(" # edited")
    assert edited.spec.version != first.spec.version
    assert edited(marker=str(marker)) == 1  # a new script never reads the old entry
    assert marker.read_text().count("x") == 2


# -- SQL ---------------------------------------------------------------------------------------

top = af.sql_task(
    "top_orders",
    "SELECT customer, SUM(amount) AS total FROM {inputs.orders} "
    "WHERE customer != {inputs.skip} GROUP BY customer HAVING total >= {inputs.least} "
    "ORDER BY total DESC",
    inputs={"orders": pd.DataFrame, "skip": str, "least": float},
)


@af.task
def orders() -> pd.DataFrame:
    return pd.DataFrame(
        {"customer": ["ann", "bob", "o'hara", "ann", "bob"], "amount": [5.0, 1.0, 9.0, 6.0, 2.0]}
    )


@af.workflow
def sql_flow(skip: str, least: float) -> pd.DataFrame:
    return top(orders=orders(), skip=skip, least=least)


def test_a_sql_task_queries_input_frames_with_literal_inputs() -> None:
    out = sql_flow(skip="bob", least=2.0)
    assert out.to_dict("list") == {"customer": ["ann", "o'hara"], "total": [11.0, 9.0]}
    # A quote in a value is data, not SQL.
    assert list(sql_flow(skip="o'hara", least=0.0)["customer"]) == ["ann", "bob"]
    assert top.spec.task_type == "sql" and top.spec.config["tables"] == ["orders"]


def test_a_sql_task_reads_a_database_file_read_only_and_returns_arrow(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE items (name TEXT, price REAL)")
        con.executemany("INSERT INTO items VALUES (?, ?)", [("pen", 1.5), ("ink", 7.0)])
    con.close()
    priced = af.sql_task(
        "priced",
        "SELECT i.name, i.price * q.n AS cost FROM items i JOIN {inputs.qty} q "
        "ON q.name = i.name ORDER BY cost",
        inputs={"qty": pa.Table},
        database=str(db),
        output_type=pa.Table,
    )
    qty = pa.table({"name": ["pen", "ink"], "n": [4, 1]})
    out = priced(qty=qty)
    assert isinstance(out, pa.Table)
    assert out.to_pydict() == {"name": ["pen", "ink"], "cost": [6.0, 7.0]}
    writes = af.sql_task("writes", "DELETE FROM items RETURNING name", database=str(db))
    with pytest.raises(ExecutionFailedError, match=r"readonly|read-only"):
        writes()
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM items").fetchone() == (2,)
    con.close()


def test_bad_sql_fails_naming_the_task_and_the_query() -> None:
    broken = af.sql_task("broken", "SELEC {inputs.n} FROM nowhere", inputs={"n": int})
    with pytest.raises(ExecutionFailedError) as info:
        broken(n=3)
    message = str(info.value)
    assert "SQL task 'broken': the query failed" in message
    assert "query: SELEC 3 FROM nowhere" in message


def test_sql_declaration_errors() -> None:
    with pytest.raises(DefinitionError, match=r"names \{inputs.lim\}.*its inputs \(limit\)"):
        af.sql_task("q", "SELECT 1 LIMIT {inputs.lim}", inputs={"limit": int})
    with pytest.raises(DefinitionError, match="unknown engine 'postgres'"):
        af.sql_task("q", "SELECT 1", engine="postgres")  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match="is remote"):
        af.sql_task("q", "SELECT 1", database="s3://bucket/db.sqlite")
    missing = af.sql_task("q_missing_db", "SELECT 1", database="/nonexistent/x.db")
    with pytest.raises(ExecutionFailedError, match=r"no database file at '/nonexistent/x\.db'"):
        missing()
    listy = af.sql_task("listy", "SELECT {inputs.xs}", inputs={"xs": list[int]})
    with pytest.raises(ExecutionFailedError, match="a list cannot be placed in a query"):
        listy(xs=[1, 2])


def test_duckdb_without_duckdb_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name == "duckdb" else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)  # as where it is not installed
    with pytest.raises(DefinitionError, match="pip install duckdb"):
        af.sql_task("dq", "SELECT 1", engine="duckdb")


@pytest.mark.skipif(not HAS_DUCKDB, reason="duckdb is not installed here")
def test_duckdb_queries_input_frames() -> None:
    dq = af.sql_task(
        "dq",
        "SELECT customer, SUM(amount) AS total FROM {inputs.orders} GROUP BY customer "
        "ORDER BY customer LIMIT {inputs.n}",
        inputs={"orders": pd.DataFrame, "n": int},
        engine="duckdb",
    )
    out = dq(orders=orders.run_python(), n=2)
    assert out.to_dict("list") == {"customer": ["ann", "bob"], "total": [11.0, 3.0]}


# -- container ---------------------------------------------------------------------------------

area = af.container_task(
    "area",
    image="python:3.12-slim",
    command=[
        sys.executable,
        "-c",
        "import pathlib, sys; r = float(sys.argv[1]); "
        "pathlib.Path('/var/outputs/area').write_text(str(round(3.0 * r * r, 2))); "
        "pathlib.Path('/var/outputs/label').write_text(open('/var/inputs/label').read().upper())",
        "{inputs.r}",
    ],
    inputs={"r": float, "label": str},
    outputs={"area": float, "label": str},
)


def test_a_container_task_runs_its_command_locally_and_records_its_image() -> None:
    out = area(r=2.0, label="disc")
    assert (out.area, out.label) == (12.0, "DISC")
    assert area.spec.task_type == "container"
    assert area.spec.config["image"] == "python:3.12-slim"
    retagged = af.container_task(
        "area",
        image="python:3.13-slim",
        command=list(area.spec.config["command"]),
        inputs={"r": float, "label": str},
        outputs={"area": float, "label": str},
    )
    assert retagged.spec.version != area.spec.version  # a new image is a new version


def test_container_errors() -> None:
    with pytest.raises(DefinitionError, match="give the container image"):
        af.container_task("c", image="", command=["true"])
    with pytest.raises(DefinitionError, match="give the command to run"):
        af.container_task("c", image="busybox", command=[])
    with pytest.raises(DefinitionError, match=r"names \{inputs.x\}"):
        af.container_task("c", image="busybox", command=["echo", "{inputs.x}"])
    missing = af.container_task("nothing", image="busybox", command=["true"], outputs={"o": int})
    with pytest.raises(
        ExecutionFailedError, match=r"wrote no output 'o' \(expected /var/outputs/o"
    ):
        missing()
    absent = af.container_task("absent", image="busybox", command=["/no/such/program"])
    with pytest.raises(ExecutionFailedError, match="could not start '/no/such/program'"):
        absent()


# -- every executor, through the CLI -------------------------------------------------------------

FLOW = textwrap.dedent(
    """
    import sys

    import pandas as pd

    import airfoil as af

    words = af.shell_task(
        "words",
        "echo {inputs.text} | wc -w | tr -d ' ' > {outputs.n}",
        inputs={"text": str},
        outputs={"n": int},
        cache=True,
    )
    squares = af.sql_task(
        "squares",
        "SELECT x, x * x AS sq FROM {inputs.frame} WHERE x <= {inputs.n}",
        inputs={"frame": pd.DataFrame, "n": int},
    )
    double = af.container_task(
        "double",
        image="alpine:3",
        command=[sys.executable, "-c",
                 "import sys; open('/var/outputs/o', 'w').write(str(2 * int(sys.argv[1])))",
                 "{inputs.n}"],
        inputs={"n": int},
        outputs={"o": int},
    )


    @af.task
    def frame() -> pd.DataFrame:
        return pd.DataFrame({"x": [1, 2, 3, 4, 5]})


    @af.task
    def total(f: pd.DataFrame, d: int) -> int:
        return int(f["sq"].sum()) + d


    @af.workflow
    def wf(text: str = "one two three") -> int:
        n = words(text=text)
        return total(f=squares(frame=frame(), n=n), d=double(n=n))
    """
)


def _cli(
    tmp_path: Path, request: pytest.FixtureRequest, executor: str, *args: str
) -> subprocess.CompletedProcess[str]:
    # On ray, the runs join the session's local Ray instead of each starting one of their own.
    base = request.getfixturevalue("ray_session_env") if executor == "ray" else os.environ
    env = {**base, "AIRFOIL_HOME": str(tmp_path / "home"), "AIRFOIL_EXECUTOR": executor}
    return subprocess.run(
        [sys.executable, "-m", "airfoil.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )


@pytest.mark.parametrize(
    "executor",
    ["inline", "process", pytest.param("ray", marks=[pytest.mark.ray, pytest.mark.slow])],
)
def test_the_task_types_run_on_each_executor_and_show_their_type(
    tmp_path: Path, executor: str, request: pytest.FixtureRequest
) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    run = _cli(tmp_path, request, executor, "run", "--json", "flow.py", "wf")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["outputs"] == {"o0": 1 + 4 + 9 + 6}
    types = {n["task"].rsplit(".", 1)[-1]: n["task_type"] for n in out["nodes"]}
    assert types == {
        "words": "shell",
        "frame": "python",
        "squares": "sql",
        "double": "container",
        "total": "python",
    }
    show = _cli(tmp_path, request, executor, "executions", "show", out["execution_id"])
    assert show.returncode == 0, show.stderr
    for shown in ("words (shell)", "squares (sql)", "double (container)"):
        assert shown in show.stdout, show.stdout
    again = _cli(tmp_path, request, executor, "run", "--json", "flow.py", "wf")
    nodes = {n["task"].rsplit(".", 1)[-1]: n for n in json.loads(again.stdout)["nodes"]}
    assert nodes["words"]["cache"] == "hit"
