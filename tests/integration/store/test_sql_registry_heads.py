"""A server's launches read a version's head on the metadata store's connection
(``SqlRegistryStore.read_heads_with``): one round trip, no pool checkout, and never a stale
version: a launch that begins after a registration returned (through this registry or
another process's) reads the version registered, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa

from airfoil.core.errors import NotFoundError
from airfoil.core.records import Interface, WorkflowSpec
from airfoil.server._launch_specs import LaunchSpecs
from airfoil.store._open import open_meta_store
from airfoil.store.registry import EntityRow, RegistryStore
from airfoil.store.sql import SqlMetaStore, SqlRegistryStore
from airfoil.testing.registry_conformance import RegistryStoreConformance

pytestmark = pytest.mark.integration


def _row(project: str, version: int, at: float) -> EntityRow:
    spec = WorkflowSpec("mod.wf", f"v{version}", Interface(), (), {}, docs=str(version))
    return EntityRow(
        project=project,
        name=spec.name,
        version=spec.version,
        kind="workflow",
        content_hash=f"hash-{version}",
        package="a" * 64,
        registered_at=at,
        spec=msgspec.json.encode(spec).decode(),
    )


class Pair:
    """The launching registry (heads on its metadata store's connection) and another one on
    the same database: another replica's, or ``airfoil register``'s process's."""

    def __init__(self, url: str, home: Path) -> None:
        meta = open_meta_store(url, str(home))
        assert isinstance(meta, SqlMetaStore)
        self.meta = meta
        self.launching = SqlRegistryStore(url)
        self.launching.read_heads_with(meta)
        self.other = SqlRegistryStore(url)
        self.checkouts = 0

        def counted(*_: object) -> None:
            self.checkouts += 1

        sa.event.listen(self.launching.engine, "checkout", counted)

    def close(self) -> None:
        self.launching.close()
        self.other.close()
        self.meta.close()


@pytest.fixture(params=["sqlite", "postgres"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pair]:
    if request.param == "sqlite":
        url = request.getfixturevalue("sqlite_url")
    else:
        url = request.getfixturevalue("pg_new_schema")()
    p = Pair(url, tmp_path / "home")
    yield p
    p.close()


def test_a_head_is_the_registered_one_read_without_a_pool_checkout(pair: Pair) -> None:
    pair.other.register([_row("p", 1, 1.0)])
    pair.launching.register([_row("q", 1, 1.0)])
    checkouts = pair.checkouts
    head = pair.launching.get_entity_head("p", "mod.wf", None)
    assert head == pair.other.get_entity_head("p", "mod.wf", None)
    assert (head.version, head.content_hash, head.spec) == ("v1", "hash-1", "")
    assert pair.launching.get_entity_head("p", "mod.wf", "v1") == head
    with pytest.raises(NotFoundError, match="v9"):
        pair.launching.get_entity_head("p", "mod.wf", "v9")
    with pytest.raises(NotFoundError):
        pair.launching.get_entity_head("r", "mod.wf", None)  # another project's name
    assert pair.checkouts == checkouts  # the metadata store's connection, not the pool's


def test_a_launch_after_a_registration_returned_uses_its_version(pair: Pair) -> None:
    specs = LaunchSpecs(pair.launching)
    for i in range(1, 4):
        registry = pair.other if i % 2 else pair.launching  # another process's, then ours
        registry.register([_row("p", i, float(i))])
        row, spec = specs.get("p", "mod.wf", None)
        assert (row.version, spec.docs) == (f"v{i}", str(i))
    assert specs.get("p", "mod.wf", "v1")[1].docs == "1"


def test_concurrent_registrations_never_give_a_launch_a_stale_version(pair: Pair) -> None:
    """Readers in threads of their own (each its own connection) against a writer in
    another registry: a read begun after the writer's register of ``vN`` returned reads
    ``vN`` or newer."""
    returned = 0  # the newest version whose register returned
    done = threading.Event()
    stale: list[tuple[int, str]] = []
    failures: list[BaseException] = []
    pair.other.register([_row("p", 0, 0.0)])

    def read() -> None:
        try:
            while not done.is_set():
                before = returned
                head = pair.launching.get_entity_head("p", "mod.wf", None)
                if int(head.version[1:]) < before:
                    stale.append((before, head.version))
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            pair.meta.release_thread_connection()

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    try:
        for i in range(1, 41):
            pair.other.register([_row("p", i, float(i))])
            returned = i
    finally:
        done.set()
        for t in readers:
            t.join(30)
    assert not failures and not stale
    assert pair.launching.get_entity_head("p", "mod.wf", None).version == "v40"


class TestSqliteHeadsOnMeta(RegistryStoreConformance):
    @pytest.fixture
    def registry_store(self, sqlite_url: str, tmp_path: Path) -> Iterator[RegistryStore]:
        p = Pair(sqlite_url, tmp_path / "home")
        yield p.launching
        p.close()


class TestPostgresHeadsOnMeta(RegistryStoreConformance):
    @pytest.fixture
    def registry_store(
        self, pg_new_schema: Callable[[], str], tmp_path: Path
    ) -> Iterator[RegistryStore]:
        p = Pair(pg_new_schema(), tmp_path / "home")
        yield p.launching
        p.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_servers_launches_read_heads_without_a_pool_checkout(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from airfoil.server._config import ServerConfig, open_runtime

    url = None if backend == "sqlite" else request.getfixturevalue("pg_new_schema")()
    runtime, registry = open_runtime(ServerConfig(home=str(tmp_path), database_url=url))
    try:
        registry.register([_row("p", 1, 1.0)])
        checkouts = 0

        def counted(*_: object) -> None:
            nonlocal checkouts
            checkouts += 1

        sa.event.listen(registry.engine, "checkout", counted)
        row, spec = LaunchSpecs(registry).get("p", "mod.wf", None)
        assert (row.version, spec.docs, checkouts) == ("v1", "1", 1)  # the spec's read alone
        assert registry.get_entity_head("p", "mod.wf", None) == row and checkouts == 1
    finally:
        runtime.close()
