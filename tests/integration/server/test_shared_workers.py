"""A server's driver slots share one pool of worker processes (``--workers``): the slots
bound only how many executions are driven at once, so more executions than workers are
driven concurrently, on no more worker processes than asked."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from _srv import start_server

from airfoil.client import Client

pytestmark = pytest.mark.integration


@pytest.mark.timeout(60)
def test_a_slot_has_four_times_the_shared_workers_attempts_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each slot's engine admits four times the shared workers' attempts of its execution (the
    ones no worker is free for wait in the slot's queue of the pool), so that the ends of
    what it has out share its fenced statements (``SUBMITTED_PER_SHARED_WORKER``)."""
    monkeypatch.setenv("AIRFOIL_PACKAGE_CACHE", str(tmp_path / "packages"))
    srv = start_server(tmp_path / "home", None, slots=2, workers=3, max_parallel=None)
    try:
        driver = srv.deps.driver
        assert driver.max_parallel == 12
        assert driver.slots[0].engine().settings.max_parallel == 12
    finally:
        srv.stop()


@pytest.mark.timeout(120)
def test_more_executions_than_workers_are_driven_at_once(
    tmp_path: Path, flow: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFOIL_PACKAGE_CACHE", str(tmp_path / "packages"))
    srv = start_server(tmp_path / "home", None, slots=5, workers=2)
    try:
        driver = srv.deps.driver
        with Client(srv.url, project="shared") as client:
            client.register([flow.nap])
            ids = [client.launch("flow.nap", {"seconds": 2.0}).id for _ in range(5)]
            most = 0
            deadline = time.monotonic() + 60
            while most < 5:
                assert time.monotonic() < deadline, f"at most {most} driven at once"
                ended = [i for i in ids if client.get(i).phase in ("succeeded", "failed")]
                assert not ended, "an execution ended before all 5 were driven at once"
                most = len(set(driver.busy()) & set(ids))
                time.sleep(0.02)
            for i in ids:
                assert client.wait(i, timeout=60).phase == "succeeded"
        pool = driver.shared_pool()
        assert pool is not None and 1 <= len(pool.worker_pids()) <= 2
    finally:
        srv.stop()


def test_a_bad_workers_setting_is_refused_naming_the_fix(tmp_path: Path) -> None:
    from airfoil.core.errors import ConfigError
    from airfoil.server import ServerConfig

    with pytest.raises(ConfigError, match=r"at least 1.*or 0"):
        ServerConfig(home=str(tmp_path), workers=-1)
    with pytest.raises(ConfigError, match="for the process executor, not 'ray'"):
        ServerConfig(home=str(tmp_path), workers=4, executor="ray")
    ServerConfig(home=str(tmp_path), workers=0, executor="ray")  # 0: each slot its own
