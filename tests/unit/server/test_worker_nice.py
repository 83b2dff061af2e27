"""An operator may have a server's worker processes run at a lower CPU priority than its
driver slots (``ServerConfig.worker_nice``, ``--worker-nice``), so user tasks yield a core to
the API and the engine: an increment from 0 (the default, WORKER_NICE) to 19, and nothing
else."""

from __future__ import annotations

import pytest

from airfoil.executors.registry import ExecutorContext
from airfoil.server._config import WORKER_NICE, ServerConfig, server_settings
from airfoil.settings import AirfoilSettings, SettingsError

pytestmark = pytest.mark.unit


def test_the_default_leaves_the_workers_at_the_drivers_priority() -> None:
    assert WORKER_NICE == 0
    assert ServerConfig(home="h").worker_nice == WORKER_NICE
    assert server_settings(ServerConfig(home="h")).worker_nice == WORKER_NICE
    assert AirfoilSettings(home="h").worker_nice == 0
    assert ExecutorContext.__dataclass_fields__["worker_nice"].default == 0


def test_an_operators_increment_reaches_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert server_settings(ServerConfig(home="h", worker_nice=5)).worker_nice == 5
    assert server_settings(ServerConfig(home="h", worker_nice=19)).worker_nice == 19
    monkeypatch.setenv("AIRFOIL_WORKER_NICE", "7")
    assert AirfoilSettings(home="h").worker_nice == 7


@pytest.mark.parametrize("nice", [-5, 20])
def test_an_increment_outside_0_to_19_is_refused(
    nice: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SettingsError, match=r"^bad worker_nice= \(AIRFOIL_WORKER_NICE\) setting"):
        ServerConfig(home="h", worker_nice=nice)
    monkeypatch.setenv("AIRFOIL_WORKER_NICE", str(nice))
    with pytest.raises(SettingsError, match="AIRFOIL_WORKER_NICE"):
        AirfoilSettings(home="h")
