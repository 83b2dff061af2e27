"""Claiming executions: concurrent claimers never share one; expired leases are reclaimed."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    from airfoil.store.sql import SqlMetaStore

    if request.param == "postgres":
        url = request.getfixturevalue("pg_schema_factory")()
    else:
        url = f"sqlite:///{tmp_path / 'claim.db'}"
    meta = SqlMetaStore(url)
    yield meta
    meta.close()


def _launcher(meta: Any, **seams: Any) -> Any:
    """A launcher as a server builds it once: no executor, no engine."""
    from airfoil.core.clock import SystemClock
    from airfoil.engine.launcher import Launcher
    from airfoil.store.stores import NoSecrets

    def no_capacity(executor: str) -> Any:
        raise AssertionError("no task of these flows asks for resources")

    return Launcher(
        meta,
        clock=SystemClock(),
        capacity=no_capacity,
        secrets=NoSecrets(),
        executor="process",
        **seams,
    )


def _launch(meta: Any, tmp_path: Path, flow: Any, n: int, **seams: Any) -> list[str]:
    from airfoil.local import spec_of
    from airfoil.store.blob import open_blob_store
    from airfoil.types import ValueContext, default_type_engine

    blobs = open_blob_store(str(tmp_path / "blobs"))
    launcher = _launcher(meta, **seams)
    x = default_type_engine().to_value(1, int, ValueContext(blobs=blobs))
    ref = "airfoil-package:" + "0" * 64 + ":" + str(tmp_path / "blobs")
    spec = spec_of(flow.wf)
    return [launcher.launch(spec, {"x": x}, code_root=ref).execution.id for _ in range(n)]


def test_concurrent_claims_are_disjoint(store: Any, tmp_path: Path, flow: Any) -> None:
    from airfoil.store.sql._server_queries import claim_execution

    ids = _launch(store, tmp_path, flow, 24)
    got: dict[str, list[str]] = {}

    def claimer(owner: str) -> None:
        mine = got.setdefault(owner, [])
        while (eid := claim_execution(store, owner, 1000.0, 60.0, "airfoil-package:")) is not None:
            mine.append(eid)

    threads = [threading.Thread(target=claimer, args=(f"o{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    claimed = [e for mine in got.values() for e in mine]
    assert sorted(claimed) == sorted(ids)  # every one claimed exactly once
    assert claim_execution(store, "late", 1030.0, 60.0) is None  # leases still held
    again = claim_execution(store, "late", 1061.0, 60.0)  # expired: reclaimed, oldest first
    assert again == ids[0]
    assert store.get_lease(again)[0] == "late"


def test_finished_executions_are_not_claimed(store: Any, tmp_path: Path, flow: Any) -> None:
    from airfoil.store.sql._server_queries import claim_execution

    (eid,) = _launch(store, tmp_path, flow, 1)
    _launcher(store).abort(eid)
    assert claim_execution(store, "o", 1e12, 5.0, "airfoil-package:") is None


def test_local_runs_are_left_alone(store: Any, tmp_path: Path, flow: Any) -> None:
    from airfoil.local import spec_of
    from airfoil.store.blob import open_blob_store
    from airfoil.store.sql._server_queries import claim_execution
    from airfoil.types import ValueContext, default_type_engine

    blobs = open_blob_store(str(tmp_path / "blobs"))
    x = default_type_engine().to_value(1, int, ValueContext(blobs=blobs))
    _launcher(store).launch(spec_of(flow.wf), {"x": x}, code_root=str(tmp_path))  # a local run
    assert claim_execution(store, "o", 1e12, 5.0, "airfoil-package:") is None
    (server_run,) = _launch(store, tmp_path, flow, 1)
    assert claim_execution(store, "o", 1e12, 5.0, "airfoil-package:") == server_run


def test_a_generated_id_that_exists_already_overwrites_nothing(
    store: Any, tmp_path: Path, flow: Any
) -> None:
    """A launch no longer looks its generated id up (a round trip each): were one to come
    out again, the launch's batch fails whole on its first event's key (adv24: it said an
    event seq was taken) and the launcher draws another id; an id source that only repeats
    itself fails the launch, the execution that holds the id untouched."""
    from airfoil.core.errors import ConflictError

    (first,) = _launch(store, tmp_path, flow, 1)
    before = (store.get_execution(first), store.get_events(first))
    with pytest.raises(ConflictError, match=f"\\({first}, {first}, {first}\\) were all taken"):
        _launch(store, tmp_path, flow, 1, new_id=lambda: first)
    assert (store.get_execution(first), store.get_events(first)) == before
