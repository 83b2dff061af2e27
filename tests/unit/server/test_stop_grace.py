"""How long a stopping server waits (``ServerConfig.stop_grace_s``, ``--stop-grace``): its open
requests' grace, its driver slots' stop bound, and an engine process's kill deadline that
margin later. The default is the server's stop as it was (10 s, and 15 s for the engine
process); an operator's value reaches each, and a value that is no whole positive number of
seconds is refused by name. The stop itself is tested end to end in
tests/integration/server/test_engine_process.py."""

from __future__ import annotations

import os
from typing import Any

import pytest

from airfoil.core.errors import ConfigError
from airfoil.server._config import (
    ENGINE_STOP_MARGIN_S,
    GRACEFUL_SHUTDOWN_S,
    MAX_STOP_GRACE_S,
    ServerConfig,
)
from airfoil.server._engine_process import EngineProcess

pytestmark = pytest.mark.unit


class _Proc:
    """A process that never stops on its own: what ``EngineProcess.stop`` waits for. Its
    ``sentinel`` is ready once it is killed, as a real process's is once it has ended."""

    def __init__(self) -> None:
        self.joins: list[float | None] = []
        self.killed = False
        self.exitcode: int | None = None
        self.pid = 0
        self.sentinel, self._alive_end = os.pipe()

    def join(self, timeout: float | None = None) -> None:
        self.joins.append(timeout)

    def is_alive(self) -> bool:
        return not self.killed

    def kill(self) -> None:
        self.killed = True
        self.exitcode = -9
        os.close(self._alive_end)  # the read end sees EOF: ready

    def __del__(self) -> None:
        os.close(self.sentinel)
        if not self.killed:
            os.close(self._alive_end)


def _engine(config: ServerConfig) -> tuple[EngineProcess, _Proc]:
    engine = EngineProcess(config, lambda *_: None)
    proc = _Proc()
    engine._proc = proc  # type: ignore[assignment]
    engine._send = lambda _message: None  # type: ignore[method-assign]
    return engine, proc


def test_the_default_is_the_stop_as_it_was() -> None:
    assert ServerConfig(home="h").stop_grace_s == GRACEFUL_SHUTDOWN_S == 10
    engine, proc = _engine(ServerConfig(home="h"))
    engine.stop()
    assert proc.joins[0] == 15.0 and proc.killed


def test_an_operators_grace_bounds_the_engine_process_stop() -> None:
    engine, proc = _engine(ServerConfig(home="h", stop_grace_s=2))
    engine.stop()
    assert proc.joins[0] == 2 + ENGINE_STOP_MARGIN_S and proc.killed


@pytest.mark.parametrize("grace", [0, -1, 2.5, True, "10"])
def test_a_grace_that_is_no_whole_positive_seconds_is_refused(grace: Any) -> None:
    with pytest.raises(ConfigError, match=r"invalid stop_grace_s .*at least 1"):
        ServerConfig(home="h", stop_grace_s=grace)


def test_the_cli_refuses_a_grace_below_a_second() -> None:
    from typer.testing import CliRunner

    from airfoil.cli.main import app

    result = CliRunner().invoke(app, ["server", "start", "--stop-grace", "0"])
    assert result.exit_code != 0
    assert "--stop-grace must be at least 1" in result.output


@pytest.mark.parametrize("grace", [MAX_STOP_GRACE_S + 1, 10**10])
def test_a_grace_past_an_hour_is_refused(grace: int) -> None:
    """(adv23) ``--stop-grace 10000000000`` (a "forever") was taken: the server ran, and its
    stop raised OverflowError joining its slots (a timeout past ``threading.TIMEOUT_MAX``),
    leaving their leases and workers behind. It is refused when the server is configured."""
    with pytest.raises(ConfigError, match=r"invalid stop_grace_s .*at most 3600"):
        ServerConfig(home="h", stop_grace_s=grace)
    assert ServerConfig(home="h", stop_grace_s=MAX_STOP_GRACE_S).stop_grace_s == 3600


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--stop-grace", "10000000000", "--stop-grace must be at least 1 and at most 3600"),
        ("--stop-grace", "nan", "Invalid value for '--stop-grace'"),
        ("--lease-ttl", "nan", "--lease-ttl a positive number of seconds"),
        ("--lease-ttl", "inf", "--lease-ttl a positive number of seconds"),
        ("--store-retry-budget", "nan", "--store-retry-budget must be zero"),
    ],
)
def test_the_cli_refuses_a_bound_that_is_no_finite_number_by_its_flag(
    flag: str, value: str, says: str
) -> None:
    """(adv23) NaN passed ``lease_ttl <= 0`` and ``budget < 0`` (every comparison with NaN
    is false): a server with a NaN lease (one that never lapses on PostgreSQL, where NaN sorts
    above every number) started."""
    from typer.testing import CliRunner

    from airfoil.cli.main import app

    result = CliRunner().invoke(app, ["server", "start", flag, value])
    assert result.exit_code != 0
    assert says in " ".join(result.output.split()), result.output
