"""An idle server's driver slots claim less: the first slot claims every ``idle_poll_s``
(work nobody wakes the slots for is found as soon as before), the others back off to
``idle_poll_cap_s``; a launch here wakes them all at once (``notify``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _srv import memory_runtime

from airfoil.executors.inline import InlineExecutor
from airfoil.runtime.worker import WorkerRuntime
from airfoil.server._driver import Driver
from airfoil.store.blob import open_blob_store
from airfoil.store.memory import MemoryMetaStore

pytestmark = pytest.mark.integration


class _CountedClaims(MemoryMetaStore):
    def __init__(self) -> None:
        super().__init__()
        self.claims: list[float] = []

        self.who: list[tuple[float, str]] = []  # (when, which slot's thread)

    def claim_execution(self, *args: Any, **kwargs: Any) -> str | None:
        self.claims.append(time.monotonic())
        self.who.append((self.claims[-1], threading.current_thread().name))
        return super().claim_execution(*args, **kwargs)


@pytest.fixture
def idle(tmp_path: Path) -> Iterator[tuple[Driver, _CountedClaims]]:
    meta = _CountedClaims()
    runtime, registry, blob_url = memory_runtime(tmp_path, meta)
    driver = Driver(
        runtime,
        slots=4,
        lease_ttl_s=5.0,
        make_executor=lambda: InlineExecutor(open_blob_store(blob_url), WorkerRuntime()),
    )
    yield driver, meta
    driver.stop()
    registry.close()


def test_idle_slots_back_off_and_a_launch_wakes_them(idle: tuple[Driver, _CountedClaims]) -> None:
    # main: every slot claimed every 0.5 s, idle or not (4 slots: 8 transactions a second)
    driver, meta = idle
    driver.start()
    time.sleep(3.0)  # the others back off: 0.5, 1, 2 s
    since = time.monotonic()
    time.sleep(4.0)
    steady = sum(t >= since for t in meta.claims) / 4.0
    assert steady <= 4.0, steady  # the first slot's 2 a second, the others' 0.5 each
    woken = time.monotonic()
    driver.notify()  # a launch

    def looked() -> set[str]:
        return {name for t, name in list(meta.who) if t >= woken}

    # Every slot looks at once, not at its own next turn: the backed-off three wait 2 s
    # (idle_poll_cap_s) between claims, so all four within a quarter of that is the wake.
    # A condition, not a fixed 0.2 s nap: how soon the woken threads run is the host's.
    while len(looked()) < 4 and time.monotonic() - woken < driver.idle_poll_cap_s / 4:
        time.sleep(0.01)
    assert len(looked()) == 4, looked()
    assert (driver.idle_poll_s, driver.idle_poll_cap_s) == (0.5, 2.0)
