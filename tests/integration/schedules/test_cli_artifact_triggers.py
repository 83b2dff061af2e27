"""``airfoil schedules activate`` / ``list`` / ``airfoil scheduler --once`` with a launch plan
triggered by new artifact versions, as a user runs them (SQLite in ``$AIRFOIL_HOME``)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from airfoil.cli.main import app

pytestmark = pytest.mark.integration

FLOWS = """
import airfoil as af


@af.task
def show(version: int) -> str:
    return f"saw rows:{version}"


@af.workflow
def show_wf(version: int = 0) -> str:
    return show(version=version)


plan = af.LaunchPlan.get_or_create(
    show_wf, "show_new_rows", trigger=af.on_artifact("rows", version_input="version")
)
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_activate_list_and_fire_once(tmp_path: Path) -> None:
    from airfoil.ml._registry import local_registry

    path = tmp_path / "code" / "cli_trigger_flows.py"
    path.parent.mkdir()
    path.write_text(textwrap.dedent(FLOWS))
    code, _, err = invoke("schedules", "activate", str(path), "plan")
    assert code == 0, err
    assert "show_new_rows active: on new versions of rows" in err
    assert local_registry().publish("rows", b"a,b\n1,2\n").version == 1
    code, _, err = invoke("scheduler", "--once")
    assert code == 0, err
    assert "1 firing(s)" in err
    code, _, err = invoke("scheduler", "--once")
    assert "0 firing(s)" in err
    code, out, err = invoke("schedules", "list", "--json")
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["schedule"] == "on new versions of rows" and row["after_version"] == 1
    assert row["next_fire_at"] is None and row["last_execution_id"].startswith("show-new-rows-v1-")
    code, out, err = invoke("schedules", "list")
    assert code == 0, err
    assert "after rows:1" in out
    code, out, _ = invoke("executions", "show", row["last_execution_id"], "--json")
    assert code == 0 and json.loads(out)["phase"] == "succeeded"
