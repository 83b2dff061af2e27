"""Schedules stored before a FixedRate rule tightened (under a second, or past a century:
both refused at definition and registration now) are still listed, shown as invalid with
the reason, and paused by the scheduler loop; they never fail a listing or a loop's pass.

The old rows are written through the store (``put_schedule`` checks nothing), as an older
version of Airfoil wrote them. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

import airfoil as af
from airfoil.cli.main import app
from airfoil.core.launch_plans import FixedRateSpec
from airfoil.engine.scheduler_loop import SchedulerLoop
from airfoil.local import LocalRuntime
from airfoil.sdk._launch_plan import FixedRate, LaunchPlan
from airfoil.server._plans import list_schedules
from airfoil.settings import AirfoilSettings
from airfoil.store._schedules import ScheduleRecord

pytestmark = pytest.mark.integration

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
CENTURIES = 8.64e13  # a million millennia: its next instant is past year 9999


@af.task
def _echo(n: int) -> int:
    return n


@af.workflow
def _flow(n: int = 1) -> int:
    return _echo(n=n)


def _record(name: str, interval_s: float, next_fire_at: float) -> ScheduleRecord:
    plan = LaunchPlan(_flow, name=name, schedule=FixedRate(dt.timedelta(hours=1)))
    old = msgspec.structs.replace(plan.spec, schedule=FixedRateSpec(interval_s=interval_s))
    return ScheduleRecord(
        name=name,
        spec=old,
        active=True,
        next_fire_at=next_fire_at,
        created_at=NOW - 60,
        updated_at=NOW - 60,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))


def test_old_fixed_rates_list_show_invalid_and_are_paused(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = AirfoilSettings(
        home=str(tmp_path), database_url=db_url, blob_url=str(tmp_path / "blobs")
    )
    rt = LocalRuntime(settings)
    try:
        store = rt.stores.schedules
        store.put_schedule(_record("old_fast", 0.5, NOW - 1))  # due now
        store.put_schedule(_record("old_slow", CENTURIES, NOW - 1))  # due now
        store.put_schedule(_record("old_far", CENTURIES, 1e12))  # past year 9999
        store.put_schedule(_record("hourly", 3600.0, NOW + 3600))  # fine, not yet due

        # the server's listing names each problem (main: no field; the rows listed as fine)
        listed = {s.name: s for s in list_schedules(_Deps(rt), "default", "development")}
        assert set(listed) == {"old_fast", "old_slow", "old_far", "hourly"}
        assert "between 1s and 100 years" in listed["old_fast"].problem
        assert "got 0.5s" in listed["old_fast"].problem
        assert "got 8.64e+13s" in listed["old_far"].problem
        assert listed["hourly"].problem == ""

        # the CLI lists them all (main: ValueError 'year 11... is out of range', exit 1)
        monkeypatch.setenv("AIRFOIL_HOME", str(tmp_path))
        monkeypatch.setenv("AIRFOIL_DATABASE_URL", db_url)
        monkeypatch.setenv("AIRFOIL_BLOB_URL", str(tmp_path / "blobs"))
        result = CliRunner().invoke(app, ["schedules", "list", "--json"])
        assert result.exit_code == 0, result.output
        rows = {r["name"]: r for r in json.loads(result.stdout)}
        assert "past what a date holds" in rows["old_far"]["next_fire_at"]
        assert "between 1s and 100 years" in rows["old_far"]["problem"]
        assert rows["hourly"]["problem"] == ""
        result = CliRunner().invoke(app, ["schedules", "list"], env={"COLUMNS": "400"})
        assert result.exit_code == 0, result.output
        assert "every 0.5s (invalid: a FixedRate interval must be between 1s" in result.stdout

        # one pass of the loop pauses the two due ones, naming why, and goes on (main: the
        # century one's next instant raised ConfigError out of run_once: no schedule fired)
        fired = SchedulerLoop(rt, drive="inline").run_once(NOW)
        assert sorted((f.name, f.launched) for f in fired) == [
            ("old_fast", False),
            ("old_slow", False),
        ]
        assert all(f.error.startswith("paused: a FixedRate interval must be") for f in fired)
        active = {r.name: r.active for r in store.list_schedules()}
        assert active == {"old_fast": False, "old_slow": False, "old_far": True, "hourly": True}
        assert rt.meta.count_executions() == 0
    finally:
        rt.close()


class _Deps:
    """What :func:`airfoil.server._plans.list_schedules` reads of the server's dependencies."""

    def __init__(self, rt: LocalRuntime) -> None:
        self.meta = rt.meta
