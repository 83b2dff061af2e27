"""A workflow whose one task (node ``n0``) attaches a report, which the tests of damaged
reports damage by hand: a test runs this file as a flow (:func:`write_flow`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import airfoil as af


@af.task
def evaluate(n: int) -> int:
    af.current_context().report.markdown("# Evaluation\n\nfinal loss **0.25**")
    return n


@af.workflow
def wf(n: int = 3) -> int:
    return evaluate(n=n)


def write_flow(path: Path) -> Path:
    """This workflow's source written to ``path`` (its module name is ``path``'s stem)."""
    shutil.copyfile(__file__, path)
    return path


def run_reported(here: Path, home: Path, name: str) -> Path:
    """Run this workflow (``airfoil run --name NAME``) from ``here``, the working directory
    the test made current, with ``home`` its ``AIRFOIL_HOME``; return its report's blob."""
    from typer.testing import CliRunner

    from airfoil.cli.main import app

    write_flow(here / "flow.py")
    ran = CliRunner().invoke(app, ["run", "--name", name, "flow.py", "wf"])
    assert ran.exit_code == 0, ran.stderr
    (blob,) = home.rglob("report.html")
    return blob
