"""The record of what a code version was computed from, so two versions can be diffed.

The SDK builds a :class:`VersionManifest` when it computes a task's default version; entry
points store it in the blob store (content-addressed by the version) when they launch, and
``airfoil cache explain`` loads the manifests of the two versions a miss compares.
"""

from __future__ import annotations

import msgspec

__all__ = ["ManifestComponent", "VersionManifest", "manifest_key"]


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
