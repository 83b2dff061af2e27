"""The wait of a driver slot after failed turns in a row doubles, is capped, and never
overflows (adv18: ``idle_poll_s * 2**failures`` raised OverflowError past 1,023 failures,
which ended the slot's thread)."""

from __future__ import annotations

import pytest

from airfoil.server._driver import FAILED_TURN_WAIT_MAX_S, failed_turn_wait_s

pytestmark = pytest.mark.unit


def test_the_wait_doubles_from_the_idle_poll() -> None:
    assert [failed_turn_wait_s(0.1, n) for n in (1, 2, 3)] == pytest.approx([0.2, 0.4, 0.8])


@pytest.mark.parametrize("failures", [1023, 1024, 1025, 10**6, 10**12])
def test_the_wait_after_very_many_failures_is_the_cap(failures: int) -> None:
    assert failed_turn_wait_s(0.1, failures) == FAILED_TURN_WAIT_MAX_S


def test_a_tiny_idle_poll_stays_finite_however_many_the_failures() -> None:
    waits = [failed_turn_wait_s(5e-324, n) for n in (1, 1024, 10**9)]
    assert all(0.0 <= w <= FAILED_TURN_WAIT_MAX_S for w in waits)
    assert waits == sorted(waits)
