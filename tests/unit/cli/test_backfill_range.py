"""``airfoil schedules backfill --to DATE``: a bare date means all of that day, in either of
ISO 8601's forms."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from airfoil.cli._schedules import parse_instant

pytestmark = pytest.mark.unit

PARIS = "Europe/Paris"


@pytest.mark.parametrize("text", ["2026-03-29", "20260329"])
def test_a_bare_date_as_the_end_is_all_of_that_day(text: str) -> None:
    # Before, only a 10-character date was taken as one: '--to 20260329' (the basic form,
    # which fromisoformat reads) ended at that day's midnight and left out its instants.
    # 2026-03-29 is the spring-forward day in Paris: 23 hours long.
    next_midnight = dt.datetime(2026, 3, 30, tzinfo=ZoneInfo(PARIS)).timestamp()
    assert parse_instant(text, PARIS, end_of_day=True) == pytest.approx(next_midnight - 1e-3)
    start = dt.datetime(2026, 3, 29, tzinfo=ZoneInfo(PARIS)).timestamp()
    assert parse_instant(text, PARIS) == start


def test_a_time_as_the_end_is_that_instant() -> None:
    at = dt.datetime(2026, 3, 29, 3, 0, tzinfo=ZoneInfo(PARIS)).timestamp()
    assert parse_instant("2026-03-29T03:00", PARIS, end_of_day=True) == at
    assert parse_instant("2026-03-29T01:00Z", PARIS, end_of_day=True) == at
