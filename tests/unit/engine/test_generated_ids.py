"""(adv26) A launch's generated execution id is never looked up before its write (a round trip
on every launch for 48 random bits a millisecond): one that is taken fails the write on the
store's keys. That used to reach the user as "an execution named 'f...' already exists:
choose another --name" although they gave no name. A generated id that is taken is now
replaced by a new one (the launch written once, under it); an id or name the user chose keeps
the message that asks for another ``--name``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import airfoil as af
from airfoil.core.clock import SystemClock
from airfoil.core.errors import ConflictError
from airfoil.core.phases import ExecutionPhase
from airfoil.engine.launcher import Launcher
from airfoil.local import spec_of
from airfoil.store.memory import MemoryMetaStore
from airfoil.store.stores import NoSecrets
from airfoil.types import ValueContext, default_type_engine

pytestmark = pytest.mark.unit


@af.task
def double(x: int) -> int:
    return 2 * x


@af.workflow
def twice(x: int = 1) -> int:
    return double(x=x)


def _ids(*ids: str) -> Callable[[], str]:
    it: Iterator[str] = iter(ids)
    return lambda: next(it)


def _no_capacity(executor: str) -> Any:
    raise AssertionError("no task of this flow asks for resources")


def _launcher(meta: MemoryMetaStore, new_id: Callable[[], str]) -> Launcher:
    return Launcher(
        meta,
        clock=SystemClock(),
        capacity=_no_capacity,
        secrets=NoSecrets(),
        executor="inline",
        new_id=new_id,
    )


def _x(n: int) -> Any:
    return default_type_engine().to_value(n, int, ValueContext.inline_only())


def test_a_generated_id_that_is_taken_is_replaced_by_a_new_one() -> None:
    meta = MemoryMetaStore()
    launcher = _launcher(meta, _ids("fsame", "fsame", "fother"))
    spec = spec_of(twice)
    first = launcher.launch(spec, {"x": _x(1)}).execution
    second = launcher.launch(spec, {"x": _x(2)}).execution  # its first id is the first's
    assert (first.id, second.id) == ("fsame", "fother")
    assert meta.get_execution("fsame").inputs == {"x": _x(1)}  # the first is untouched
    assert meta.get_execution("fother").inputs == {"x": _x(2)}
    assert meta.get_execution("fother").phase == ExecutionPhase.QUEUED.value
    assert [e.seq for e in meta.get_events("fother")] == [1]  # written once


def test_a_named_launch_whose_generated_id_is_taken_keeps_its_name() -> None:
    meta = MemoryMetaStore()
    launcher = _launcher(meta, _ids("fsame", "fsame", "fother"))
    spec = spec_of(twice)
    launcher.launch(spec, {"x": _x(1)})
    named = launcher.launch(spec, {"x": _x(2)}, name="nightly").execution
    assert (named.id, named.name) == ("fother", "nightly")


def test_a_recovery_whose_generated_id_is_taken_is_written_under_a_new_one() -> None:
    meta = MemoryMetaStore()
    launcher = _launcher(meta, _ids("fold", "fold", "fnew"))
    old = launcher.launch(spec_of(twice), {"x": _x(1)}).execution
    launcher.abort(old.id, "to recover it")
    recovered = launcher.recover(old.id)
    assert recovered.id == "fnew"
    assert recovered.labels["recovered_from"] == "fold"


def test_ids_that_keep_colliding_fail_without_asking_for_another_name() -> None:
    meta = MemoryMetaStore()
    launcher = _launcher(meta, _ids("fsame", "fsame", "fsame", "fsame"))
    spec = spec_of(twice)
    launcher.launch(spec, {"x": _x(1)})
    with pytest.raises(ConflictError) as caught:
        launcher.launch(spec, {"x": _x(2)})
    message = str(caught.value)
    assert "generated" in message and "fsame" in message
    assert "choose another --name" not in message
    assert len(meta.list_executions()) == 1


def test_an_id_the_user_chose_that_is_taken_asks_for_another_name() -> None:
    meta = MemoryMetaStore()
    launcher = _launcher(meta, _ids("fa", "fb"))  # the named launches' ids
    spec = spec_of(twice)
    launcher.launch(spec, {"x": _x(1)}, execution_id="nightly-1")
    with pytest.raises(ConflictError, match="choose another --name"):
        launcher.launch(spec, {"x": _x(2)}, execution_id="nightly-1")
    launcher.launch(spec, {"x": _x(1)}, name="nightly-2")
    with pytest.raises(ConflictError, match=r"'nightly-2' already exists.*choose another --name"):
        launcher.launch(spec, {"x": _x(2)}, name="nightly-2")
