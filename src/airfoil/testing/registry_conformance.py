"""The registry store conformance suite: tests every :class:`RegistryStore` backend passes.

Subclass :class:`RegistryStoreConformance` and provide the ``registry_store`` fixture (an
empty store)::

    class TestMyRegistry(RegistryStoreConformance):
        @pytest.fixture
        def registry_store(self) -> Iterator[RegistryStore]:
            s = MyRegistryStore()
            yield s
            s.close()

Invariants checked are those of :mod:`airfoil.store.registry`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import pytest

from airfoil.core.errors import NotFoundError
from airfoil.store.registry import EntityRow, LaunchPlanRow, RegistryStore, VersionConflict

__all__ = ["RegistryStoreConformance", "make_entity", "make_launch_plan"]


def make_entity(
    name: str = "mod.wf",
    version: str = "v1",
    *,
    project: str = "p",
    kind: str = "workflow",
    content_hash: str = "c1",
    registered_at: float = 100.0,
) -> EntityRow:
    """A registered task or workflow version with every field set."""
    return EntityRow(
        project=project,
        name=name,
        version=version,
        kind=kind,
        content_hash=content_hash,
        package="a" * 64,
        registered_at=registered_at,
        spec=json.dumps({"name": name, "version": version}),
    )


def make_launch_plan(
    name: str = "mod.nightly",
    version: str = "h1",
    *,
    project: str = "p",
    registered_at: float = 100.0,
) -> LaunchPlanRow:
    """A registered launch plan version with every field set."""
    return LaunchPlanRow(
        project=project,
        name=name,
        version=version,
        workflow="mod.wf",
        workflow_version="v1",
        package="b" * 64,
        registered_at=registered_at,
        spec=json.dumps({"name": name}),
    )


class RegistryStoreConformance:
    """Every registry store backend passes these (provide the ``registry_store`` fixture)."""

    # --- projects -----------------------------------------------------------------------

    def test_projects(self, registry_store: RegistryStore) -> None:
        s = registry_store
        assert s.list_projects() == []
        assert s.ensure_project("beta", "second", now=2.0) is True
        assert s.ensure_project("alpha", "first", now=1.0) is True
        assert s.ensure_project("alpha", "ignored", now=3.0) is False  # kept as it was
        assert s.list_projects() == [("alpha", "first", 1.0), ("beta", "second", 2.0)]
        assert s.get_project("alpha") == ("alpha", "first", 1.0)
        with pytest.raises(NotFoundError, match="gamma"):
            s.get_project("gamma")

    def test_concurrent_project_creation_creates_once(self, registry_store: RegistryStore) -> None:
        created: list[bool] = []
        lock = threading.Lock()

        def make() -> None:
            got = registry_store.ensure_project("same", now=1.0)
            with lock:
                created.append(got)

        threads = [threading.Thread(target=make) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(created) == [False] * 5 + [True]

    # --- packages -----------------------------------------------------------------------

    def test_packages(self, registry_store: RegistryStore) -> None:
        s = registry_store
        assert not s.has_package("f" * 64)
        assert s.add_package("f" * 64, 10, 1.0) is True
        assert s.add_package("f" * 64, 10, 2.0) is False
        assert s.has_package("f" * 64)

    # --- entities -----------------------------------------------------------------------

    def test_register_and_read_back(self, registry_store: RegistryStore) -> None:
        s = registry_store
        wf = make_entity()
        task = make_entity("mod.t", kind="task", registered_at=101.0)
        assert s.register([wf, task]) == [(wf, True), (task, True)]
        assert s.get_entity("p", "mod.wf", "v1") == wf
        assert s.get_entity("p", "mod.t", None) == task
        assert s.list_entities("p") == [task, wf]  # newest first
        assert s.list_entities("p", kind="task") == [task]
        assert s.list_entities("other") == []

    def test_an_entity_head_is_its_row_without_the_spec(
        self, registry_store: RegistryStore
    ) -> None:
        s = registry_store
        v1 = make_entity()
        v2 = make_entity(version="v2", content_hash="c2", registered_at=150.0)
        theirs = make_entity(project="q", content_hash="c9", registered_at=300.0)
        s.register([v1, v2, theirs])
        assert s.get_entity_head("p", "mod.wf", "v1") == replace(v1, spec="")
        assert s.get_entity_head("p", "mod.wf", None) == replace(v2, spec="")  # the newest
        assert s.get_entity_head("q", "mod.wf", "v1") == replace(theirs, spec="")
        with pytest.raises(NotFoundError):
            s.get_entity_head("p", "mod.wf", "v9")
        with pytest.raises(NotFoundError):
            s.get_entity_head("p", "mod.other", None)
        with pytest.raises(NotFoundError):
            s.get_entity_head("r", "mod.wf", None)

    def test_same_version_same_content_is_a_noop(self, registry_store: RegistryStore) -> None:
        s = registry_store
        wf = make_entity()
        s.register([wf])
        again = replace(wf, registered_at=200.0)
        assert s.register([again]) == [(wf, False)]  # as stored, first registration kept
        assert s.list_entities("p") == [wf]

    def test_same_version_other_content_conflicts_and_registers_nothing(
        self, registry_store: RegistryStore
    ) -> None:
        s = registry_store
        s.register([make_entity()])
        fresh = make_entity("mod.other")
        changed = make_entity(content_hash="c2")
        with pytest.raises(VersionConflict, match="different content"):
            s.register([fresh, changed])
        assert s.list_entities("p") == [make_entity()]  # fresh was not registered either
        with pytest.raises(VersionConflict):
            s.register([make_entity(kind="task")])  # same content hash, other kind

    def test_newest_version_and_missing_versions(self, registry_store: RegistryStore) -> None:
        s = registry_store
        v1 = make_entity(version="v1", registered_at=100.0)
        v2 = make_entity(version="v2", content_hash="c2", registered_at=200.0)
        s.register([v2])
        s.register([v1])
        assert s.get_entity("p", "mod.wf", None) == v2  # newest registered, not last written
        assert s.get_entity("p", "mod.wf", "v1") == v1
        with pytest.raises(NotFoundError, match="version 'v9'"):
            s.get_entity("p", "mod.wf", "v9")
        with pytest.raises(NotFoundError, match=r"mod\.nope"):
            s.get_entity("p", "mod.nope", None)
        with pytest.raises(NotFoundError):
            s.get_entity("other", "mod.wf", "v1")  # projects are apart

    def test_projects_keep_their_own_versions(self, registry_store: RegistryStore) -> None:
        s = registry_store
        a = make_entity(project="alpha")
        b = make_entity(project="beta", content_hash="other")  # same name+version, no conflict
        assert s.register([a]) == [(a, True)]
        assert s.register([b]) == [(b, True)]
        assert s.get_entity("alpha", "mod.wf", "v1") == a
        assert s.get_entity("beta", "mod.wf", "v1") == b

    # --- launch plans -------------------------------------------------------------------

    def test_launch_plans(self, registry_store: RegistryStore) -> None:
        s = registry_store
        old = make_launch_plan(version="h1", registered_at=100.0)
        new = make_launch_plan(version="h2", registered_at=200.0)
        other = make_launch_plan("mod.hourly", registered_at=150.0)
        assert s.register_launch_plans([old, other]) == [(old, True), (other, True)]
        assert s.register_launch_plans([new, old]) == [(new, True), (old, False)]
        assert s.get_launch_plan("p", "mod.nightly", None) == new
        assert s.get_launch_plan("p", "mod.nightly", "h1") == old
        assert s.list_launch_plans("p") == [other, new]  # newest of each, by name
        assert s.list_launch_plans("q") == []
        with pytest.raises(NotFoundError, match="airfoil register"):
            s.get_launch_plan("p", "mod.none", None)
        with pytest.raises(NotFoundError, match="version 'h9'"):
            s.get_launch_plan("p", "mod.nightly", "h9")
