"""One injected runtime: the stores opened once from settings (the registry too, on first
use), the launcher built once and shared, and the server built on the same ``Runtime``."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import airfoil as af
from airfoil.core.errors import ConfigError, ConflictError
from airfoil.engine.launcher import Launcher
from airfoil.local import LocalRuntime, Runtime, spec_of
from airfoil.settings import AirfoilSettings
from airfoil.store.base import BlobStore, MetaStore
from airfoil.store.memory import MemoryMetaStore
from airfoil.store.memory_registry import MemoryRegistryStore
from airfoil.store.registry import LaunchPlanRow, RegistryStore
from airfoil.store.sql import SqlMetaStore
from airfoil.store.sql._registry import SqlRegistryStore
from airfoil.store.stores import EnvSecrets, NoSecrets, Stores, open_stores
from airfoil.types import ValueContext

pytestmark = pytest.mark.unit


class _FixedClock:
    def now(self) -> float:
        return 1_000.0

    def sleep(self, seconds: float) -> None:
        return None


@af.task(secret_requests=["db_token"])
def _needs_token(x: int) -> int:
    return x


@af.task
def _plain(x: int) -> int:
    return x + 1


def _settings(tmp_path: Path, database_url: str | None) -> AirfoilSettings:
    return AirfoilSettings(
        home=str(tmp_path / "home"), database_url=database_url, blob_url=str(tmp_path / "b")
    )


def test_a_local_runtime_opens_every_store_from_settings_and_the_registry_on_first_use(
    tmp_path: Path,
) -> None:
    runtime = LocalRuntime(_settings(tmp_path, None))
    try:
        stores = runtime.stores
        assert isinstance(stores.meta, SqlMetaStore)
        assert stores.schedules is stores.meta  # every Airfoil metadata store keeps schedules
        assert isinstance(stores.secrets, EnvSecrets)
        assert not stores.registry_opened  # a run that registers nothing pays nothing
        registry = runtime.registry
        assert isinstance(registry, SqlRegistryStore)
        assert runtime.registry is registry and stores.registry_opened
        # Registered launch plans exist locally, in the same database file as executions.
        registry.ensure_project("default", now=1.0)
        row = LaunchPlanRow("default", "nightly", "v1", "wf", "w1", "0" * 64, 1.0, "{}")
        assert registry.register_launch_plans([row]) == [(row, True)]
    finally:
        runtime.close()
    reopened = LocalRuntime(_settings(tmp_path, None))
    try:
        assert [p.name for p in reopened.registry.list_launch_plans("default")] == ["nightly"]
    finally:
        reopened.close()


def test_a_memory_runtime_gets_a_memory_registry(tmp_path: Path) -> None:
    runtime = LocalRuntime(_settings(tmp_path, "memory://"))
    try:
        assert isinstance(runtime.meta, MemoryMetaStore)
        assert isinstance(runtime.registry, MemoryRegistryStore)
    finally:
        runtime.close()


def test_the_registry_is_opened_once_under_concurrent_first_use(tmp_path: Path) -> None:
    opened: list[RegistryStore] = []

    def open_registry() -> RegistryStore:
        store = MemoryRegistryStore()
        opened.append(store)
        return store

    stores = Stores(
        MemoryMetaStore(), _blobs(tmp_path), blob_url=str(tmp_path), registry=open_registry
    )
    seen: list[RegistryStore] = []
    threads = [threading.Thread(target=lambda: seen.append(stores.registry)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(opened) == 1 and all(s is opened[0] for s in seen)


def test_a_metadata_store_without_schedules_is_refused_with_the_reason(tmp_path: Path) -> None:
    # A third-party metadata store that keeps no schedules.
    bare_cls = type("Bare", (MetaStore,), dict.fromkeys(MetaStore.__abstractmethods__, None))
    bare = bare_cls()
    with pytest.raises(ConfigError, match="does not keep schedules"):
        Stores(bare, _blobs(tmp_path), blob_url=str(tmp_path), registry=MemoryRegistryStore())


def test_one_launcher_per_runtime_shared_by_its_engines(tmp_path: Path) -> None:
    runtime = LocalRuntime(_settings(tmp_path, "memory://"))
    try:
        launcher = runtime.launcher
        assert isinstance(launcher, Launcher) and runtime.launcher is launcher
        assert runtime.engine().launcher is launcher
        assert runtime.engine("process").launcher is launcher
    finally:
        runtime.close()


def test_a_runtime_built_on_given_stores_launches_with_its_clock_and_secrets(
    tmp_path: Path,
) -> None:
    """What the server does: its own stores (registry, secret source) and clock, one
    launcher, no executor and no engine to launch."""
    stores = Stores(
        MemoryMetaStore(),
        _blobs(tmp_path),
        blob_url=str(tmp_path / "b"),
        registry=MemoryRegistryStore(),
        secrets=NoSecrets(),
    )
    settings = _settings(tmp_path, "memory://").model_copy(update={"executor": "process"})
    runtime = Runtime(settings, stores, clock=_FixedClock())
    try:
        x = runtime.types.to_value(1, int, ValueContext(blobs=runtime.blobs))
        state = runtime.launcher.launch(
            spec_of(_plain), {"x": x}, project="alpha", domain="staging", execution_id="e1"
        )
        stored = runtime.meta.get_execution("e1")
        assert stored == state.execution
        assert (stored.project, stored.domain, stored.executor) == ("alpha", "staging", "process")
        assert stored.created_at == 1_000.0
        with pytest.raises(ConflictError, match="already exists"):
            runtime.launcher.launch(spec_of(_plain), {"x": x}, execution_id="e1")
        # A task asking for a secret the project lacks is refused at launch, writing nothing.
        with pytest.raises(ConfigError, match="requests secret 'db_token', which is not set"):
            runtime.launcher.launch(spec_of(_needs_token), {"x": x}, execution_id="e2")
        assert [r.id for r in runtime.meta.list_executions()] == ["e1"]
        # Relaunch and recover keep the old execution's project and domain.
        again = runtime.launcher.relaunch("e1", new_id="e3")
        assert (again.project, again.domain, again.labels["relaunch_of"]) == (
            "alpha",
            "staging",
            "e1",
        )
        aborted = runtime.launcher.abort("e1", "not needed")
        assert aborted.phase == "aborted"
        recovered = runtime.launcher.recover("e1", new_id="e4")
        assert (recovered.project, recovered.labels["recovered_from"]) == ("alpha", "e1")
    finally:
        runtime.close()


def test_launch_checks_secrets_of_the_launched_project(tmp_path: Path) -> None:
    class OneProject:
        def get_many(self, project: str, names: tuple[str, ...]) -> dict[str, str]:
            return {n: "s3cret" for n in names} if project == "alpha" else {}

    stores = Stores(
        MemoryMetaStore(),
        _blobs(tmp_path),
        blob_url=str(tmp_path / "b"),
        registry=MemoryRegistryStore(),
        secrets=OneProject(),
    )
    runtime = Runtime(_settings(tmp_path, "memory://"), stores)
    try:
        x = runtime.types.to_value(1, int, ValueContext(blobs=runtime.blobs))
        runtime.launcher.launch(spec_of(_needs_token), {"x": x}, project="alpha")
        with pytest.raises(ConfigError, match="db_token"):
            runtime.launcher.launch(spec_of(_needs_token), {"x": x}, project="beta")
    finally:
        runtime.close()


def test_open_stores_refuses_an_unknown_database_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unsupported metadata store URL"):
        open_stores("mysql://x/y", str(tmp_path), str(tmp_path / "b"))


def _blobs(tmp_path: Path) -> BlobStore:
    from airfoil.store.blob import open_blob_store

    return open_blob_store(str(tmp_path / "b"))
