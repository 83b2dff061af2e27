"""``airfoil run`` with inputs typed ``datetime.time``, ``Decimal``, ``UUID``, ``Path`` and a
``NamedTuple``, as a user types them: before 2026-12-07 each was refused ("pickled types cannot
be given on the command line") and such a workflow could not be run from the shell."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from airfoil.cli.main import app

pytestmark = [
    pytest.mark.integration,
    # the types are pickled (each warns once, as a user's run would show)
    pytest.mark.filterwarnings("ignore::airfoil.types.PickleFallbackWarning"),
]

FLOW = """
import datetime as dt
import decimal
import pathlib
import uuid
from typing import NamedTuple

import airfoil as af


class Window(NamedTuple):
    start: dt.date
    days: int
    label: str = "w"


@af.task
def describe(
    at: dt.time, price: decimal.Decimal, ref: uuid.UUID, out: pathlib.Path, window: Window
) -> str:
    assert type(price) is decimal.Decimal and type(window) is Window
    span = f"{window.start}+{window.days}{window.label}"
    return f"{at.isoformat()}|{price}|{ref.hex}|{out.as_posix()}|{span}"


@af.workflow
def wf(
    at: dt.time, price: decimal.Decimal, ref: uuid.UUID, out: pathlib.Path, window: Window
) -> str:
    return describe(at=at, price=price, ref=ref, out=out, window=window)
"""


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_a_run_takes_pickled_types_as_typed(
    tmp_path: Path, _airfoil_home: Path, monkeypatch: pytest.MonkeyPatch, executor: str
) -> None:
    (tmp_path / "pickled_flow.py").write_text(textwrap.dedent(FLOW))
    monkeypatch.chdir(tmp_path)
    inputs = [
        "--at",
        "09:15:30",
        "--price",
        "0.10",
        "--ref",
        "{12345678-1234-5678-1234-567812345678}",
    ]
    inputs += ["--out", "reports/q1.csv", "--window", '["2026-01-31", 7]']
    args = ["run", "--json", "--executor", executor, "pickled_flow.py", "wf", *inputs]
    ran = CliRunner().invoke(app, args)
    assert ran.exit_code == 0, ran.stderr
    out = json.loads(ran.stdout)
    assert out["phase"] == "succeeded"
    assert out["outputs"] == {
        "o0": "09:15:30|0.10|12345678123456781234567812345678|reports/q1.csv|2026-01-31+7w"
    }


def test_a_bad_value_is_a_usage_error_naming_the_input(
    tmp_path: Path, _airfoil_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pickled_flow.py").write_text(textwrap.dedent(FLOW))
    monkeypatch.chdir(tmp_path)
    args = ["run", "pickled_flow.py", "wf", "--at", "9h15", "--price", "1", "--ref", "x"]
    ran = CliRunner().invoke(app, [*args, "--out", "o", "--window", "[]"])
    said = " ".join(ran.stderr.split())
    assert ran.exit_code == 2, said
    assert "--at" in said and "expected an ISO 8601 time" in said and "Traceback" not in said
