"""Code-version manifests in the blob store: what ``airfoil cache explain`` diffs.

Entry points that launch local runs store the manifest of each cached task's code version
(content-addressed by the version, written once); explain loads the manifests of the two
versions a miss compares and names the functions and constants that changed, with a short diff.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import msgspec

from airfoil.core.code_versions import VersionManifest, manifest_key
from airfoil.core.errors import NotFoundError, StoreError
from airfoil.core.records import TaskSpec, WorkflowSpec
from airfoil.store.base import BlobStore

__all__ = ["diff_versions", "load_manifest", "save_manifests"]


def _cached_task_specs(spec: msgspec.Struct, found: dict[str, TaskSpec]) -> None:
    if isinstance(spec, TaskSpec):
        if spec.cache.enabled and not spec.cache.version:
            found.setdefault(spec.version, spec)
        return
    for name in spec.__struct_fields__:
        value = getattr(spec, name)
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if isinstance(item, msgspec.Struct):
                _cached_task_specs(item, found)


def save_manifests(
    blobs: BlobStore, spec: WorkflowSpec, manifest_for: Callable[[str], VersionManifest | None]
) -> int:
    """Store the manifest of every cached task's code version in ``spec`` that is not stored
    yet (content-addressed by version); the number written. Best effort: a blob store error
    only costs ``airfoil cache explain`` its diff."""
    found: dict[str, TaskSpec] = {}
    _cached_task_specs(spec, found)
    written = 0
    for version in found:
        manifest = manifest_for(version)
        if manifest is None:
            continue
        key = manifest_key(version)
        try:
            if not blobs.exists(blobs.uri(key)):
                blobs.put_bytes(key, msgspec.json.encode(manifest))
                written += 1
        except (OSError, StoreError):
            continue
    return written


def load_manifest(blobs: BlobStore, version: str) -> VersionManifest | None:
    """The stored manifest of a version, or ``None``."""
    try:
        data = blobs.get_bytes(blobs.uri(manifest_key(version)))
        return msgspec.json.decode(data, type=VersionManifest)
    except (NotFoundError, StoreError, OSError, msgspec.DecodeError):
        return None


def diff_versions(old: VersionManifest, new: VersionManifest, max_lines: int = 12) -> list[str]:
    """Lines naming what changed between two versions, each change with a short diff."""
    lines: list[str] = []
    for label in sorted(set(old.components) | set(new.components)):
        before, after = old.components.get(label), new.components.get(label)
        if before is not None and after is not None and before.digest == after.digest:
            continue
        if before is None:
            lines.append(f"+ {label} (now reached)")
            continue
        if after is None:
            lines.append(f"- {label} (no longer reached)")
            continue
        lines.append(f"~ {label} changed:")
        diff = list(
            difflib.unified_diff(
                before.text.splitlines(), after.text.splitlines(), lineterm="", n=1
            )
        )[2:]
        body = [d for d in diff if not d.startswith("@@")]
        lines += ["    " + d for d in body[:max_lines]]
        if len(body) > max_lines:
            lines.append(f"    ... {len(body) - max_lines} more lines")
    for name in sorted(set(new.unhashable) - set(old.unhashable)):
        lines.append(f"? {name} is read but cannot be hashed: {new.unhashable[name]}")
    return lines
