"""The record of what a code version was computed from, so two versions can be diffed.

The SDK builds a :class:`VersionManifest` when it computes a task's default version. Wherever a
version is computed and then run, the manifest is stored in the blob store (content-addressed
by the version, written once) with :func:`save_manifests`: entry points that launch local runs
(before the launch), and the worker runtime, for the task of every cached attempt it runs (so
server launches, whose versions the client computed, child calls and the children of
``@dynamic`` tasks get theirs too: the worker computes the same version from the same code).
``airfoil cache explain`` loads the manifests of the two versions a miss compares
(:func:`load_manifest`) and names the functions and constants that changed, with a short diff
(:func:`diff_versions`).
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable

import msgspec

from airfoil.core.blobs import BlobStore
from airfoil.core.errors import NotFoundError, StoreError
from airfoil.core.records import TaskSpec, WorkflowSpec

__all__ = [
    "ManifestComponent",
    "VersionManifest",
    "diff_versions",
    "load_manifest",
    "manifest_key",
    "save_manifests",
]

_SAVED: set[str] = set()  # manifest URIs known to be stored (asked once per process)
_SAVED_LOCK = threading.Lock()


class ManifestComponent(msgspec.Struct, frozen=True, array_like=True):
    """One hashed part of a version: its digest and (the start of) its normalised text."""

    digest: str
    text: str


class VersionManifest(msgspec.Struct, frozen=True, omit_defaults=True):
    """What a code version was computed from.

    Attributes:
        version: the version.
        entry: the label of the function the version is of (``file.py:qualname``).
        components: label -> component: functions, classes, methods (normalised code),
            constants (canonical text), library names.
        unhashable: name -> why it could not be hashed (a change to it is not seen).
    """

    version: str
    entry: str
    components: dict[str, ManifestComponent] = {}
    unhashable: dict[str, str] = {}


def manifest_key(version: str) -> str:
    """The blob key of a version's manifest."""
    return f"code-versions/{version[:2]}/{version}.json"


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


#: the last spec :func:`_cached_versions` walked, with its answer
_last_walked: tuple[TaskSpec | WorkflowSpec, dict[str, TaskSpec]] | None = None


def _cached_versions(spec: TaskSpec | WorkflowSpec) -> dict[str, TaskSpec]:
    """The cached tasks ``spec`` reaches, by code version. Specs are frozen, so the answer
    for the spec asked last is kept: a workflow called again and again (a script's loop)
    is walked once, not on every call (~20 attribute reads a node, issue 17)."""
    global _last_walked
    last = _last_walked
    if last is not None and last[0] is spec:
        return last[1]
    found: dict[str, TaskSpec] = {}
    _cached_task_specs(spec, found)
    _last_walked = (spec, found)
    return found


def save_manifests(
    blobs: BlobStore,
    spec: TaskSpec | WorkflowSpec,
    manifest_for: Callable[[str], VersionManifest | None],
) -> int:
    """Store the manifest of every cached task's code version in ``spec`` (a task, or every
    task a workflow reaches) that is not stored yet (content-addressed by version); the
    number written. Each store is asked once per version and process. Best effort: a blob
    store error only costs ``airfoil cache explain`` its diff."""
    found = _cached_versions(spec)
    written = 0
    for version in found:
        key = manifest_key(version)
        uri = blobs.uri(key)
        if uri in _SAVED:
            continue
        manifest = manifest_for(version)
        if manifest is None:
            continue
        try:
            if not blobs.exists(uri):
                blobs.put_bytes(key, msgspec.json.encode(manifest))
                written += 1
        except (OSError, StoreError):
            continue
        with _SAVED_LOCK:
            if len(_SAVED) >= 65536:
                _SAVED.clear()
            _SAVED.add(uri)
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
