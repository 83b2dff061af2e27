"""A server's driver slots share one pool of worker processes (``--workers``): the slots
bound only how many executions are driven at once, so more executions than workers are
driven concurrently, on no more worker processes than asked."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from _srv import start_server, user_module

from airfoil.client import Client

pytestmark = pytest.mark.integration


HOLDS = textwrap.dedent(
    """
    import time

    import airfoil as af


    @af.task
    def hold(seconds: float, i: int) -> float:
        time.sleep(seconds)
        return seconds


    @af.task
    def total(a: float, b: float, c: float, d: float) -> float:
        return a + b + c + d


    @af.workflow
    def holds(seconds: float = 1.0) -> float:
        return total(
            a=hold(seconds=seconds, i=0),
            b=hold(seconds=seconds, i=1),
            c=hold(seconds=seconds, i=2),
            d=hold(seconds=seconds, i=3),
        )
    """
)


@pytest.fixture(scope="module")
def holdflow(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return user_module(tmp_path_factory.mktemp("holdproj"), "holdflow", HOLDS, "holds")


@pytest.mark.timeout(60)
def test_a_slot_sharing_the_pool_asks_it_how_many_attempts_to_have_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine of a slot sharing the pool has no fixed bound: the pool answers at each
    admission, the workers' share while its attempts are long or unknown, 4 a worker while
    they are short (~2,000 a second: the server's trivial tasks; what they finish then
    shares a slot's fenced statements); ``--max-parallel`` caps it."""
    monkeypatch.setenv("AIRFOIL_PACKAGE_CACHE", str(tmp_path / "packages"))
    srv = start_server(tmp_path / "home", None, slots=2, workers=3, max_parallel=None)
    try:
        driver = srv.deps.driver
        assert driver.max_parallel is None
        engine = driver.slots[0].engine()
        assert engine.settings.max_parallel is None
        assert engine.executor.max_out() == 3  # nothing finished yet: the workers
        pool = driver.shared_pool()
        monkeypatch.setattr(pool, "rate", lambda: 2_000.0)
        assert engine.executor.max_out() == 12
    finally:
        srv.stop()


def _shown_running(meta: Any, ids: list[str]) -> int:
    return sum(1 for i in ids for a in meta.get_attempts(i) if a.phase == "running")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers", [1, 2])
def test_long_tasks_show_no_more_attempts_running_than_workers(
    tmp_path: Path, holdflow: Any, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """Two slots drive an execution of four parallel 1-s holds each on ``workers`` shared
    workers. The store never shows more attempts running than the workers plus one (a slot
    that becomes active keeps one attempt out, waiting its turn for a worker, until the
    other slot's attempts out come down to its share), and each attempt's recorded start
    is its hand-off to a worker: its duration is its run (~1 s), not its wait. Fails on
    ``main`` (each slot had 4 out: 8 shown running; the starts were the admissions, up to
    ~7 s before) and on srv4's round 1 (4 a worker out)."""
    monkeypatch.setenv("AIRFOIL_PACKAGE_CACHE", str(tmp_path / "packages"))
    srv = start_server(tmp_path / "home", None, slots=2, workers=workers, max_parallel=None)
    try:
        meta = srv.deps.driver.meta
        with Client(srv.url, project="holds") as client:
            client.register([holdflow.holds])
            # Warm the pool first: a worker's start (a process, its imports) counts as its
            # first attempt's run, seconds at this host's slow minutes, and is not a wait.
            warm = client.launch("holdflow.holds", {"seconds": 0.3}).id
            deadline = time.monotonic() + 60
            while client.get(warm).phase not in ("succeeded", "failed"):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            ids = [client.launch("holdflow.holds", {"seconds": 1.0}).id for _ in range(2)]
            most = 0
            deadline = time.monotonic() + 90
            while not all(client.get(i).phase in ("succeeded", "failed") for i in ids):
                assert time.monotonic() < deadline
                most = max(most, _shown_running(meta, ids))
                time.sleep(0.02)
            assert [client.get(i).phase for i in ids] == ["succeeded"] * 2
        assert 1 <= most <= workers + 1, f"{most} shown running on {workers} workers"
        holds = [a for i in ids for a in meta.get_attempts(i) if a.node_id != "n4"]
        assert len(holds) == 8
        took = sorted(round((a.ended_at or 0) - a.started_at, 2) for a in holds)
        # A wait for a worker here is at least one hold (1 s): shown as run, it reads >= 2 s.
        assert all(0.95 <= t < 1.9 for t in took), took
        # So do their nodes' (each ran one attempt): before polish3 the node's start stayed
        # the admission (`airfoil executions show` and the console showed the wait as run).
        nodes = [n for i in ids for n in meta.get_nodes(i) if n.node_id != "n4"]
        took = sorted(round((n.ended_at or 0) - (n.started_at or 0), 2) for n in nodes)
        assert len(took) == 8 and all(0.95 <= t < 1.9 for t in took), took
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
