"""(adv24) Two launchers (two servers, or engines, on one store) launching the same execution
id, or the same name, at once: both find it free, both write their launch, one commits. The
loser's batch fails whole on the store's unique keys; it said "an event seq of the batch
already exists (duplicate key ...)" for an id, where a launch that finds the id taken says
the execution exists already and how to continue it. Now the loser is told the same. Real
SQLite and PostgreSQL, one store (one connection) per launcher, the writes on two threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airfoil.core.errors import ConflictError

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgres":
        yield request.getfixturevalue("pg_schema_factory")()
    else:
        yield f"sqlite:///{tmp_path / 'race.db'}"


def _launcher(meta: Any) -> Any:
    from airfoil.core.clock import SystemClock
    from airfoil.engine.launcher import Launcher
    from airfoil.store.stores import NoSecrets

    def no_capacity(executor: str) -> Any:
        raise AssertionError("no task of this flow asks for resources")

    return Launcher(
        meta, clock=SystemClock(), capacity=no_capacity, secrets=NoSecrets(), executor="process"
    )


def _race(url: str, tmp_path: Path, flow: Any, launches: list[dict[str, Any]]) -> list[Any]:
    """Each launch checked by its own launcher (none finds the id or name taken), then all
    written at once, each on its thread and store: what each write raised (None: it won)."""
    from airfoil.local import spec_of
    from airfoil.store.blob import open_blob_store
    from airfoil.store.sql import SqlMetaStore
    from airfoil.types import ValueContext, default_type_engine

    blobs = open_blob_store(str(tmp_path / "blobs"))
    x = default_type_engine().to_value(1, int, ValueContext(blobs=blobs))
    ref = "airfoil-package:" + "0" * 64 + ":" + str(tmp_path / "blobs")
    spec = spec_of(flow.wf)
    stores = [SqlMetaStore(url) for _ in launches]
    try:
        states = [
            _launcher(meta).new_state(spec, {"x": x}, project="alpha", code_root=ref, **kw)
            for meta, kw in zip(stores, launches, strict=True)
        ]
        batches = [s.take_batch() for s in states]
        start = threading.Barrier(len(launches))
        got: list[Any] = [None] * len(launches)

        def write(i: int) -> None:
            start.wait(10)
            try:
                stores[i].write(batches[i])
            except Exception as exc:
                got[i] = exc

        threads = [threading.Thread(target=write, args=(i,)) for i in range(len(launches))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        return got
    finally:
        for meta in stores:
            meta.close()


def _one_lost(got: list[Any], shown: str) -> ConflictError:
    lost = [e for e in got if e is not None]
    assert len(lost) == 1, got
    error = lost[0]
    assert isinstance(error, ConflictError), repr(error)
    message = str(error)
    assert f"an execution named {shown!r} already exists in project 'alpha'" in message
    assert f"airfoil executions resume {shown}" in message
    assert "event seq" not in message and "duplicate key" not in message.lower()
    return error


def test_the_loser_of_a_same_id_launch_is_told_the_execution_exists(
    url: str, tmp_path: Path, flow: Any
) -> None:
    got = _race(url, tmp_path, flow, [{"execution_id": "nightly-7"}] * 2)
    _one_lost(got, "nightly-7")


def test_the_loser_of_a_same_name_launch_is_told_the_execution_exists(
    url: str, tmp_path: Path, flow: Any
) -> None:
    launches = [{"execution_id": f"f{i}", "name": "nightly-8"} for i in range(2)]
    got = _race(url, tmp_path, flow, launches)
    _one_lost(got, "nightly-8")
