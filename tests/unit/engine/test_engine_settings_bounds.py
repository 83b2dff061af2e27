"""(adv23) ``EngineSettings`` took any number for its durations: a ``control_poll_s`` of 0 or
-1 spun a drive waiting out a retry's backoff or a gate at full CPU (the clock sleeps nothing
for either), and NaN or a huge value slept the backoff or the gate's timeout whole again
(``min(timeout, nan)`` is the timeout), so a terminate or a server's stop waited for it; a
NaN ``lease_ttl_s`` wrote a lease that never lapses. Each is refused when the settings are
made, naming the setting."""

from __future__ import annotations

import math
from typing import Any

import pytest

from airfoil.core.errors import ConfigError
from airfoil.engine.runner import EngineSettings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("value", [0, 0.0, -1.0, math.nan, math.inf, 3600.0, True, "0.5"])
def test_a_control_poll_that_would_spin_crash_or_sleep_on_is_refused(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"EngineSettings\.control_poll_s"):
        EngineSettings(control_poll_s=value)


@pytest.mark.parametrize("value", [0, -1.0, math.nan, math.inf])
def test_a_lease_that_never_lapses_or_never_lives_is_refused(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"EngineSettings\.lease_ttl_s"):
        EngineSettings(lease_ttl_s=value)


@pytest.mark.parametrize(
    "name", ["retry_backoff_s", "result_linger_s", "journal_max_s", "cache_wait_poll_s"]
)
@pytest.mark.parametrize("value", [-0.5, math.nan, math.inf])
def test_any_duration_is_a_finite_number_of_seconds(name: str, value: float) -> None:
    with pytest.raises(ConfigError, match=rf"EngineSettings\.{name}"):
        EngineSettings(**{name: value})


def test_the_defaults_and_sensible_values_are_taken() -> None:
    EngineSettings()
    s = EngineSettings(control_poll_s=0.05, lease_ttl_s=0.3, result_linger_s=0, journal_max_s=0)
    assert (s.control_poll_s, s.lease_ttl_s, s.result_linger_s) == (0.05, 0.3, 0)
