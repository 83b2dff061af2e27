"""Driver slots never die: a turn that fails is counted and the slot carries on; a slot
whose thread ends anyway is replaced by the supervisor and counted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from airfoil.executors.base import Executor
from airfoil.executors.inline import InlineExecutor
from airfoil.local import Runtime
from airfoil.runtime.worker import WorkerRuntime
from airfoil.server._driver import Driver
from airfoil.server._registry import Registry
from airfoil.settings import AirfoilSettings
from airfoil.store.blob import open_blob_store
from airfoil.store.memory import MemoryMetaStore
from airfoil.store.stores import Stores

pytestmark = pytest.mark.integration


class _Die(BaseException):
    """Escapes every ``except Exception``: ends the thread it is raised in."""


def _failing(failure: BaseException, times: int) -> Callable[[str], Executor]:
    """A slot executor factory (given the blob folder) that fails ``times`` times first."""
    left = [times]

    def make(blob_url: str) -> Executor:
        if left[0] > 0:
            left[0] -= 1
            raise failure
        return InlineExecutor(open_blob_store(blob_url), WorkerRuntime())

    return make


@pytest.fixture
def make_driver(tmp_path: Path) -> Iterator[Callable[..., Driver]]:
    registry = Registry(None, str(tmp_path / "home"))
    made: list[Driver] = []
    restarts: list[str] = []

    def make(executor: Callable[[str], Executor], warm: bool = False) -> Driver:
        blob_url = str(tmp_path / "blobs")
        stores = Stores(
            MemoryMetaStore(), open_blob_store(blob_url), blob_url=blob_url, registry=registry
        )
        runtime = Runtime(AirfoilSettings(home=str(tmp_path / "home")), stores)
        driver = Driver(
            runtime,
            slots=2,
            lease_ttl_s=0.4,
            make_executor=lambda: executor(blob_url),
            on_restart=restarts.append,
            warm=warm,
        )
        driver.supervise_every_s = 0.05
        driver.restarts_seen = restarts  # type: ignore[attr-defined]
        made.append(driver)
        return driver

    yield make
    for d in made:
        d.stop()
    registry.close()


def _eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_failing_turn_is_counted_and_the_slot_carries_on(
    make_driver: Callable[..., Driver],
) -> None:
    driver = make_driver(_failing(RuntimeError("a bug in a turn"), times=1))
    driver.start()
    threads = [s.thread for s in driver.slots]
    _eventually(lambda: driver.restarts_seen == ["error"])  # type: ignore[attr-defined]
    time.sleep(0.3)
    assert driver.alive()
    assert [s.thread for s in driver.slots] == threads  # the same threads, still running


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_slot_thread_is_replaced_and_counted(make_driver: Callable[..., Driver]) -> None:
    driver = make_driver(_failing(_Die(), times=1))
    driver.start()
    _eventually(lambda: driver.restarts_seen == ["died"])  # type: ignore[attr-defined]
    _eventually(driver.alive)
    assert len(driver.slots) == 2 and all(s.thread.is_alive() for s in driver.slots)


class _SlowToWarm(InlineExecutor):
    """An executor whose workers take until ``go`` is set to start; counts its warm-ups."""

    def __init__(self, blob_url: str, go: threading.Event, warmed: list[int]) -> None:
        super().__init__(open_blob_store(blob_url), WorkerRuntime())
        self.go, self.warmed = go, warmed

    def warm(self) -> None:
        assert self.go.wait(10)
        self.warmed.append(1)


def test_a_driver_is_alive_only_once_every_slot_has_started_its_workers(
    make_driver: Callable[..., Driver],
) -> None:
    go, warmed = threading.Event(), []
    driver = make_driver(lambda blob_url: _SlowToWarm(blob_url, go, warmed), warm=True)
    driver.start()
    time.sleep(0.3)
    # Threads running, workers not started yet: starting, not alive (/readyz: 503
    # engine_starting), and no execution claimed meanwhile.
    assert all(s.thread.is_alive() for s in driver.slots)
    assert driver.starting() and not driver.alive() and warmed == []
    go.set()
    _eventually(driver.alive)
    assert not driver.starting() and warmed == [1, 1]  # each slot's executor, once
    assert driver.restarts_seen == []  # type: ignore[attr-defined]


def test_a_driver_not_asked_to_warm_starts_no_workers_ahead(
    make_driver: Callable[..., Driver],
) -> None:
    go, warmed = threading.Event(), []
    driver = make_driver(lambda blob_url: _SlowToWarm(blob_url, go, warmed))
    driver.start()
    _eventually(driver.alive)  # at once: its workers start with its first attempts
    time.sleep(0.2)
    assert warmed == [] and not driver.starting()
