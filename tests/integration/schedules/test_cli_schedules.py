"""``airfoil schedules ...`` and ``airfoil scheduler`` as a user runs them (SQLite in
``$AIRFOIL_HOME``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from airfoil.cli.main import app

pytestmark = pytest.mark.integration

FLOWS = """
import datetime as dt
import airfoil as af
from airfoil.sdk._launch_plan import CronSchedule, FixedRate, LaunchPlan, LogNotification


@af.task
def greet(day: dt.datetime, who: str) -> str:
    return f"hello {who} on {day.date()}"


@af.workflow
def greeting(day: dt.datetime, who: str = "world") -> str:
    return greet(day=day, who=who)


nightly = LaunchPlan.get_or_create(
    greeting,
    "cli_nightly",
    fixed_inputs={"who": "Paris"},
    schedule=CronSchedule("0 3 * * *", timezone="Europe/Paris", kickoff_time_input_arg="day"),
)
every_second = LaunchPlan.get_or_create(
    greeting,
    "cli_every_second",
    schedule=FixedRate(dt.timedelta(seconds=1), kickoff_time_input_arg="day"),
    notifications=[LogNotification()],
)
"""


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    path = tmp_path / "code" / "cli_sched_flows.py"
    path.parent.mkdir()
    path.write_text(textwrap.dedent(FLOWS))
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_activate_list_backfill_deactivate(flows: Path) -> None:
    code, _, err = invoke("schedules", "activate", str(flows), "nightly")
    assert code == 0, err
    assert "schedule cli_nightly active" in err and "Europe/Paris" in err
    code, out, _ = invoke("schedules", "list", "--json")
    (row,) = json.loads(out)
    assert (row["name"], row["active"], row["code_root"]) == (
        "cli_nightly",
        True,
        str(flows.parent),
    )
    assert row["next_fire_at"].endswith(("T02:00:00Z", "T01:00:00Z"))

    window = ["--from", "2026-03-28", "--to", "2026-03-30T03:00"]
    code, out, err = invoke("schedules", "backfill", "cli_nightly", *window, "--json")
    assert code == 0, err
    first = json.loads(out)
    assert [f["instant"] for f in first] == [
        "2026-03-28T02:00:00Z",
        "2026-03-29T01:00:00Z",  # 03:00 CEST on the day the clocks go forward
        "2026-03-30T01:00:00Z",
    ]
    assert [(f["launched"], f["phase"]) for f in first] == [(True, "succeeded")] * 3
    code, out, _ = invoke("schedules", "list", "--json")
    (row,) = json.loads(out)  # main: the backfill left the last execution unset
    assert (row["last_fired_at"], row["last_execution_id"]) == (
        "2026-03-30T01:00:00Z",
        first[-1]["execution_id"],
    )
    code, out, _ = invoke("schedules", "backfill", "cli_nightly", *window, "--json")
    again = json.loads(out)
    assert [f["launched"] for f in again] == [False] * 3
    assert [f["execution_id"] for f in again] == [f["execution_id"] for f in first]
    code, out, _ = invoke("executions", "list", "--json")
    assert len(json.loads(out)) == 3

    code, _, err = invoke("schedules", "deactivate", "cli_nightly")
    assert code == 0 and "deactivated" in err
    code, out, _ = invoke("schedules", "list", "--json")
    assert json.loads(out)[0]["active"] is False
    code, out, _ = invoke(
        "schedules",
        "backfill",
        "cli_nightly",
        "--from",
        "2026-03-30",
        "--to",
        "2026-03-31",
        "--json",
        "--no-wait",
    )
    # a bare --to date includes that whole day; the 30th exists already
    assert [(f["instant"], f["launched"]) for f in json.loads(out)] == [
        ("2026-03-30T01:00:00Z", False),
        ("2026-03-31T01:00:00Z", True),
    ]
    assert json.loads(out)[1]["phase"] == "queued"
    code, _, err = invoke("schedules", "backfill", "cli_nightly", "--from", "x", "--to", "y")
    assert code == 2 and "invalid time 'x'" in err


@pytest.mark.parametrize(
    ("start", "end", "said"),
    [
        ("2026-01-01", "9999-12-31", "time '9999-12-31' is out of range"),  # was OverflowError
        ("0001-01-01", "2026-01-01", "lies between 1970-01-01 and 9998-12-31"),  # year 0
        ("0001-01-01T00:00Z", "0001-01-02T00:00Z", "lies between 1970-01-01"),  # OverflowError
    ],
)
def test_a_backfill_range_past_what_a_datetime_holds_is_refused(
    flows: Path, start: str, end: str, said: str
) -> None:
    """These were tracebacks (OverflowError, ValueError 'year 0 is out of range')."""
    code, _, err = invoke("schedules", "activate", str(flows), "cli_nightly")
    assert code == 0, err
    code, _, err = invoke("schedules", "backfill", "cli_nightly", "--from", start, "--to", end)
    assert code == 2 and said in err, err


def test_user_errors_are_clear(flows: Path) -> None:
    code, _, err = invoke("schedules", "activate", str(flows), "greeting")
    assert code == 2 and "not a launch plan" in err
    code, _, err = invoke("schedules", "activate", str(flows), "nope")
    assert code == 2 and "no launch plan named 'nope'" in err
    code, _, err = invoke("schedules", "deactivate", "nope")
    assert code == 2 and "no schedule 'nope'" in err
    code, _, err = invoke("schedules", "activate", str(flows), "cli_nightly")  # by plan name
    assert code == 0, err


def test_scheduler_once_fires_what_is_due(flows: Path) -> None:
    assert invoke("schedules", "activate", str(flows), "every_second")[0] == 0
    time.sleep(1.1)
    code, _, err = invoke("scheduler", "--once")
    assert code == 0, err
    assert "firing(s)" in err and not err.startswith("0 ")
    code, out, _ = invoke("executions", "list", "--json")
    assert {e["phase"] for e in json.loads(out)} == {"succeeded"}


def test_the_foreground_scheduler_logs_firings_and_stops_on_ctrl_c(flows: Path) -> None:
    assert invoke("schedules", "activate", str(flows), "every_second")[0] == 0
    airfoil = Path(sys.executable).with_name("airfoil")
    proc = subprocess.Popen(
        [str(airfoil), "scheduler", "--poll", "0.1"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=os.environ.copy(),
    )
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if "ended succeeded" in line:
                break
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = "".join(lines) + rest
    assert "scheduler started" in text
    assert "schedule cli_every_second fired for" in text
    assert "launch plan cli_every_second" in text  # the log notification
    assert "stopping" in text and "Traceback" not in text
    assert proc.returncode == 0, text


def test_a_plan_whose_task_inputs_were_renamed_after_activation_fails_saying_so(
    flows: Path,
) -> None:
    """The scheduler launches the stored spec and imports the task's code as it is now: on
    main a task whose input was renamed after ``activate`` failed with ``KeyError: 'who'``."""
    assert invoke("schedules", "activate", str(flows), "nightly")[0] == 0
    flows.write_text(flows.read_text().replace("who", "name"))  # and the plan's fixed input
    airfoil = Path(sys.executable).with_name("airfoil")
    window = ["--from", "2026-03-28", "--to", "2026-03-28"]
    done = subprocess.run(
        [str(airfoil), "schedules", "backfill", "cli_nightly", *window, "--json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    (fired,) = json.loads(done.stdout)
    assert fired["phase"] == "failed", done.stderr
    _, out, _ = invoke("executions", "show", fired["execution_id"], "--json")
    error = json.dumps(json.loads(out))
    assert "InvalidInputError" in error and "no longer takes 'who'" in error, error
    assert "now needs 'name'" in error and "airfoil schedules activate" in error, error
