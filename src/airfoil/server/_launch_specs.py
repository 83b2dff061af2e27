"""The decoded workflow spec of each registered version a server launches, kept.

A launch reads its entity's registered row and decodes its spec (a fan-out of 100: ~60 KB
of JSON, ~100 node structs; ~11% of a launch's CPU in the API process, with the row's
read). A registered version never changes content (``RegistryStore``'s invariant), so the
decoded spec of ``(project, name, version, content hash)`` is exact for every later launch
of that version: a launch reads the row's head (which version is meant, its package and
content hash: no spec, no TOAST) and decodes the spec only the first time.

Invariants:

- Kept per project: another project's version of the same name and version (other content,
  or the same) is read and decoded for its own launches, never served from this one's.
- Keyed by the content hash too: a row whose content differs from what was kept (it cannot
  happen under the registry's invariant; a database edited by hand) is decoded again.
- At most ``versions`` specs are kept; the one used least recently goes first.
- A kept :class:`~airfoil.core.records.WorkflowSpec` is frozen: the executions launched from
  it share it and cannot change it under each other.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import msgspec

from airfoil.core.records import WorkflowSpec
from airfoil.store.registry import EntityRow, RegistryStore

__all__ = ["LaunchSpecs"]

_Key = tuple[str, str, str, str]  # project, name, version, content hash


class LaunchSpecs:
    """Registered versions' decoded specs, by project, name, version and content hash.

    Args:
        registry: where the versions are registered.
        versions: how many specs to keep.
    """

    def __init__(self, registry: RegistryStore, versions: int = 64) -> None:
        self.registry = registry
        self.versions = versions
        self._kept: OrderedDict[_Key, WorkflowSpec] = OrderedDict()
        self._lock = threading.Lock()
        self._decoder = msgspec.json.Decoder(WorkflowSpec)
        #: specs read and decoded (not found among the kept ones): for tests and benchmarks
        self.decoded = 0

    def get(self, project: str, name: str, version: str | None) -> tuple[EntityRow, WorkflowSpec]:
        """The row (without its spec: ``spec`` is "") and the decoded spec of one version of
        ``project`` (the newest registered if ``version`` is None).

        Raises:
            NotFoundError: no such entity or version in ``project``.
        """
        head = self.registry.get_entity_head(project, name, version)
        key = (head.project, head.name, head.version, head.content_hash)
        with self._lock:
            spec = self._kept.get(key)
            if spec is not None:
                self._kept.move_to_end(key)
                return head, spec
        row = self.registry.get_entity(project, head.name, head.version)
        spec = self._decoder.decode(row.spec)
        with self._lock:
            self.decoded += 1
            if row.content_hash == head.content_hash:
                self._kept[key] = spec
                self._kept.move_to_end(key)
                while len(self._kept) > self.versions:
                    self._kept.popitem(last=False)
        return head, spec
