"""The collector pause of the ``airfoil`` command's start (cli/_collector, issue 17 W5)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from airfoil.cli import _collector

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    _collector._paused = False
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_resume_starts_the_collector_it_paused_with_the_start_up_frozen() -> None:
    gc.enable()
    frozen = gc.get_freeze_count()
    _collector.pause()
    assert not gc.isenabled()
    _collector.resume()
    assert gc.isenabled()
    assert gc.get_freeze_count() > frozen
    _collector.resume()  # a second resume is nothing
    assert gc.isenabled()


def test_a_collector_paused_by_someone_else_stays_paused() -> None:
    gc.disable()  # as `airfoil server start` or a test's process may have it
    frozen = gc.get_freeze_count()
    _collector.pause()
    _collector.resume()
    assert not gc.isenabled()
    assert gc.get_freeze_count() == frozen
