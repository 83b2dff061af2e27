"""A server's launches decode each registered version's spec once (``LaunchSpecs``): the
kept spec is the version asked for, of the project asked for, and the newest version is
looked up at every launch."""

from __future__ import annotations

import msgspec
import pytest

from airfoil.core.errors import NotFoundError
from airfoil.core.records import Interface, WorkflowSpec
from airfoil.server._launch_specs import LaunchSpecs
from airfoil.store.memory_registry import MemoryRegistryStore
from airfoil.store.registry import EntityRow


def _spec(version: str, docs: str) -> WorkflowSpec:
    return WorkflowSpec("mod.wf", version, Interface(), (), {}, docs=docs)


def _row(project: str, spec: WorkflowSpec, at: float) -> EntityRow:
    return EntityRow(
        project=project,
        name=spec.name,
        version=spec.version,
        kind="workflow",
        content_hash=f"{project}-{spec.version}-{spec.docs}",
        package="a" * 64,
        registered_at=at,
        spec=msgspec.json.encode(spec).decode(),
    )


def test_a_version_is_decoded_once_and_served_as_registered() -> None:
    registry = MemoryRegistryStore()
    v1 = _spec("v1", "first")
    registry.register([_row("p", v1, 1.0)])
    specs = LaunchSpecs(registry)
    row, spec = specs.get("p", "mod.wf", "v1")
    assert spec == v1 and (row.version, row.package, row.spec) == ("v1", "a" * 64, "")
    again = specs.get("p", "mod.wf", None)[1]
    assert again is spec and specs.decoded == 1  # kept: not read nor decoded again


def test_another_projects_version_of_the_same_name_is_its_own() -> None:
    registry = MemoryRegistryStore()
    ours, theirs = _spec("v1", "ours"), _spec("v1", "theirs")
    registry.register([_row("p", ours, 1.0), _row("q", theirs, 1.0)])
    specs = LaunchSpecs(registry)
    assert specs.get("p", "mod.wf", "v1")[1] == ours
    assert specs.get("q", "mod.wf", "v1")[1] == theirs  # never p's, kept under the same name
    assert specs.get("p", "mod.wf", "v1")[1] == ours
    assert specs.decoded == 2
    with pytest.raises(NotFoundError):
        specs.get("r", "mod.wf", "v1")  # a project with nothing registered finds nothing


def test_the_newest_version_is_looked_up_at_each_launch() -> None:
    registry = MemoryRegistryStore()
    v1, v2 = _spec("v1", "one"), _spec("v2", "two")
    registry.register([_row("p", v1, 1.0)])
    specs = LaunchSpecs(registry)
    assert specs.get("p", "mod.wf", None)[1] == v1
    registry.register([_row("p", v2, 2.0)])
    row, spec = specs.get("p", "mod.wf", None)
    assert (row.version, spec) == ("v2", v2)
    assert specs.get("p", "mod.wf", "v1")[1] == v1  # the older one is still asked by name
    assert specs.decoded == 2


def test_the_kept_specs_are_bounded_least_recently_used_first() -> None:
    registry = MemoryRegistryStore()
    versions = [_spec(f"v{i}", str(i)) for i in range(3)]
    registry.register([_row("p", s, float(i)) for i, s in enumerate(versions)])
    specs = LaunchSpecs(registry, versions=2)
    specs.get("p", "mod.wf", "v0")
    specs.get("p", "mod.wf", "v1")
    specs.get("p", "mod.wf", "v0")  # v1 is now the least recently used
    specs.get("p", "mod.wf", "v2")  # v1 goes
    assert specs.decoded == 3
    assert specs.get("p", "mod.wf", "v0")[1] == versions[0] and specs.decoded == 3
    assert specs.get("p", "mod.wf", "v1")[1] == versions[1] and specs.decoded == 4
