"""save_manifests finds the cached tasks of a spec once per spec, and each spec's own."""

from __future__ import annotations

from airfoil.core.code_versions import VersionManifest, save_manifests
from airfoil.core.records import (
    CachePolicy,
    Interface,
    NodeKind,
    NodeSpec,
    TaskSpec,
    WorkflowSpec,
)
from airfoil.store.blob import open_blob_store


def _task(version: str, cached: bool = True) -> TaskSpec:
    return TaskSpec(
        name=f"t{version}",
        version=version,
        interface=Interface(),
        module="m",
        qualname=f"t{version}",
        cache=CachePolicy(enabled=cached),
    )


def _workflow(*tasks: TaskSpec) -> WorkflowSpec:
    nodes = tuple(
        NodeSpec(id=f"n{i}", kind=NodeKind.TASK, inputs={}, task=t) for i, t in enumerate(tasks)
    )
    return WorkflowSpec(name="wf", version="w", interface=Interface(), nodes=nodes, outputs={})


def test_each_spec_saves_its_own_cached_versions_when_asked_again(tmp_path) -> None:
    blobs = open_blob_store(str(tmp_path))
    asked: list[str] = []

    def manifest_for(version: str) -> VersionManifest:
        asked.append(version)
        return VersionManifest(version=version, entry="m.t")

    first = _workflow(_task("a1"), _task("b1", cached=False), _task("a1"))
    assert save_manifests(blobs, first, manifest_for) == 1
    assert save_manifests(blobs, first, manifest_for) == 0  # saved already
    second = _workflow(_task("c2"), _task("a1"))
    assert save_manifests(blobs, second, manifest_for) == 1  # not the first spec's answer
    assert save_manifests(blobs, first, manifest_for) == 0
    assert asked == ["a1", "c2"]
