"""A server's worker processes run at a lower CPU priority than its driver slots
(``ServerConfig.worker_nice``, default WORKER_NICE), so user tasks yield a core to the API and
the engine; an operator may choose another increment from 0 to 19, and nothing else."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from airfoil.core.errors import ConfigError
from airfoil.executors.registry import ExecutorContext
from airfoil.server._config import WORKER_NICE, ServerConfig, server_settings
from airfoil.settings import AirfoilSettings

pytestmark = pytest.mark.unit


def test_a_servers_workers_are_niced_by_default_and_a_local_runs_are_not() -> None:
    assert WORKER_NICE == 5
    assert ServerConfig(home="h").worker_nice == WORKER_NICE
    assert server_settings(ServerConfig(home="h")).worker_nice == WORKER_NICE
    assert AirfoilSettings(home="h").worker_nice == 0
    assert ExecutorContext.__dataclass_fields__["worker_nice"].default == 0


def test_an_operators_increment_reaches_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert server_settings(ServerConfig(home="h", worker_nice=0)).worker_nice == 0
    assert server_settings(ServerConfig(home="h", worker_nice=19)).worker_nice == 19
    monkeypatch.setenv("AIRFOIL_WORKER_NICE", "7")
    assert AirfoilSettings(home="h").worker_nice == 7


@pytest.mark.parametrize("nice", [-5, 20])
def test_an_increment_outside_0_to_19_is_refused(
    nice: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="invalid worker nice"):
        ServerConfig(home="h", worker_nice=nice)
    monkeypatch.setenv("AIRFOIL_WORKER_NICE", str(nice))
    with pytest.raises(ValidationError, match="worker_nice"):
        AirfoilSettings(home="h")
