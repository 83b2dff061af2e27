"""examples/schedules.py runs: a launch plan call, and a backfill across the spring change."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from airfoil.cli._load import load_entity
from airfoil.core.errors import InvalidInputError
from airfoil.engine.scheduler_loop import activate_schedule, backfill
from airfoil.local import get_runtime

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "schedules.py"


def test_the_example_runs_and_backfills(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFOIL_DATABASE_URL", "memory://")
    nightly = load_entity(str(EXAMPLE), "nightly")
    assert nightly(region="it").startswith("it 2026-03-28: ")
    with pytest.raises(InvalidInputError, match="'currency'"):
        nightly(currency="USD")
    rt = get_runtime()
    record = activate_schedule(rt.meta, nightly.spec, now=0.0)
    start = dt.datetime(2026, 3, 28, tzinfo=dt.UTC).timestamp()
    firings = backfill(rt, record, start, start + 3 * 86400)
    days = [rt.meta.get_execution(f.execution_id) for f in firings]
    assert [d.phase for d in days] == ["succeeded"] * 3
    assert [f.execution_id[21:30] for f in firings] == ["20260328t", "20260329t", "20260330t"]
