"""Typed CLI inputs: JSON for structured types, paths for File and DataFrame (CSV, Parquet);
secrets and environment reaching the task."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

pytestmark = pytest.mark.e2e

FLOW = textwrap.dedent(
    """
    import dataclasses, os
    import pandas as pd
    import airfoil as af

    @dataclasses.dataclass
    class Config:
        name: str
        weights: list[float]

    @af.task
    def describe(df: pd.DataFrame, cfg: Config, tags: dict[str, int], doc: af.File) -> str:
        text = open(doc.path).read().strip()
        return f"{cfg.name}:{len(df)}:{sum(cfg.weights)}:{sorted(tags)}:{text}"

    @af.workflow
    def wf(df: pd.DataFrame, cfg: Config, tags: dict[str, int], doc: af.File) -> str:
        return describe(df=df, cfg=cfg, tags=tags, doc=doc)

    @af.task
    def kinds(x: int | str, y: str | None = None, z: str = "") -> str:
        return f"{type(x).__name__}:{x} {y!r} {z}"

    @af.workflow
    def unions(x: int | str, y: str | None = None, z: str = "") -> str:
        return kinds(x=x, y=y, z=z)

    @af.task(secret_requests=["api-token"], environment={"MODE": "fast"})
    def uses_secret(x: int) -> str:
        token = af.current_context().secrets["api-token"]
        print("token is", token)
        return f"{len(token)}:{os.environ['MODE']}"
    """
)


@pytest.fixture
def flow(tmp_path: Path) -> str:
    path = tmp_path / "inputs_flow.py"
    path.write_text(FLOW)
    return str(path)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_dataframe_file_and_json_inputs(cli: Any, flow: str, tmp_path: Path, fmt: str) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]})
    data = tmp_path / f"data.{fmt}"
    if fmt == "csv":
        frame.to_csv(data, index=False)
    else:
        frame.to_parquet(data)
    doc = tmp_path / "doc.txt"
    doc.write_text("hello doc\n")
    r = cli(
        "run",
        "--json",
        flow,
        "wf",
        "--df",
        str(data),
        "--cfg",
        '{"name": "m", "weights": [1.5, 2.5]}',
        "--tags",
        '{"b": 1, "a": 2}',
        "--doc",
        str(doc),
    )
    assert r.code == 0, r.err
    assert r.json()["outputs"] == {"o0": "m:3:4.0:['a', 'b']:hello doc"}


def test_bad_structured_input_is_a_clear_error(cli: Any, flow: str, tmp_path: Path) -> None:
    r = cli(
        "run",
        flow,
        "wf",
        "--df",
        str(tmp_path / "missing.csv"),
        "--cfg",
        "{}",
        "--tags",
        "{}",
        "--doc",
        "x",
    )
    assert r.code == 2 and "Traceback" not in r.err
    r = cli("run", flow, "wf", "--cfg", "not json")
    assert r.code == 2 and "--cfg" in r.err


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        ("7", "7", "int:7 '7'"),
        ('"7"', '"null"', "str:7 'null'"),  # JSON-quoted: the text, as with pyflyte
        ("seven", "null", "str:seven None"),
    ],
)
def test_a_union_with_str_takes_json_quoted_text(
    cli: Any, flow: str, x: str, y: str, expected: str
) -> None:
    r = cli("run", "--json", flow, "unions", "--x", x, "--y", y, "--z", '"q"')
    assert r.code == 0, r.err
    assert r.json()["outputs"] == {"o0": expected + ' "q"'}  # a plain str keeps its quotes
    page = cli("run", flow, "unions", "--help")
    assert """'"7"' in JSON double quotes is the text 7""" in page.out


@pytest.mark.parametrize(
    "twice",
    [["--x", "1", "--x", "2"], ["--x", "1", "--x=2"], ["--x", "1", "--z", "a", "--z", "b"]],
)
def test_an_input_given_twice_is_an_error_not_the_last_value(
    cli: Any, flow: str, twice: list[str]
) -> None:
    """On main the last value silently won (`--lr 0.1 ... --lr 0.01` ran with 0.01)."""
    r = cli("run", "--json", flow, "unions", *twice)
    assert r.code == 2, r.out
    flag = "--z" if "--z" in twice else "--x"
    assert f"input {flag} is given twice: give it once" in r.err, r.err


def test_secrets_reach_the_task_and_never_the_logs_by_default(cli: Any, flow: str) -> None:
    missing = cli("run", flow, "uses_secret", "--x", "1")
    assert missing.code == 2 and "AIRFOIL_SECRET_API_TOKEN" in missing.err
    r = cli(
        "run", "--json", flow, "uses_secret", "--x", "1", env={"AIRFOIL_SECRET_API_TOKEN": "s3cr3t"}
    )
    assert r.code == 0, r.err
    assert r.json()["outputs"] == {"o0": "6:fast"}
