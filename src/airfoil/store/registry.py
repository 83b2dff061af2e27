"""The registry store: projects, code packages, registered task/workflow versions and launch
plan versions.

:class:`RegistryStore` is the abstract class; :class:`~airfoil.store.memory_registry.
MemoryRegistryStore` keeps it in memory (tests, embedded use) and
:class:`~airfoil.store.sql.SqlRegistryStore` in the SQL database beside the metadata store
(the server's ``server_*`` tables). Every backend passes
:mod:`airfoil.testing.registry_conformance`.

Invariants every backend keeps:

- ``(project, name, version)`` of a registered entity or launch plan never changes content:
  registering it again with the same content is a no-op (``created`` False), with other
  content a :class:`VersionConflict`, and then nothing of the batch is registered.
- A launch plan's version is the hash of its spec, so registering it again is always a no-op.
- "Newest" is the latest ``registered_at`` (ties: any one of them).
- Rows come back equal to what was registered; callers never share state with the store.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, replace

from airfoil.core.errors import ConflictError, NotFoundError

__all__ = [
    "EntityRow",
    "LaunchPlanRow",
    "RegistryStore",
    "VersionConflict",
    "entity_conflict",
    "missing_entity",
    "missing_launch_plan",
    "missing_project",
]


class VersionConflict(ConflictError):
    """An entity version is already registered with different content."""


@dataclass(frozen=True)
class EntityRow:
    """A registered task or workflow version (``spec`` is the launchable WorkflowSpec JSON)."""

    project: str
    name: str
    version: str
    kind: str
    content_hash: str
    package: str
    registered_at: float
    spec: str


@dataclass(frozen=True)
class LaunchPlanRow:
    """A registered launch plan version (``spec`` is the LaunchPlanSpec JSON; ``version`` the
    hash of it, so a version never changes content)."""

    project: str
    name: str
    version: str
    workflow: str
    workflow_version: str
    package: str
    registered_at: float
    spec: str


def entity_conflict(existing: EntityRow, row: EntityRow) -> VersionConflict | None:
    """The conflict of registering ``row`` over ``existing`` (same version), or None."""
    if existing.content_hash == row.content_hash and existing.kind == row.kind:
        return None
    return VersionConflict(
        f"{row.kind} {row.name!r} version {row.version!r} is already "
        f"registered in project {row.project!r} with different content: "
        "give the new code a new version"
    )


def missing_entity(project: str, name: str, version: str | None) -> NotFoundError:
    what = f"version {version!r} of " if version else ""
    return NotFoundError(f"no {what}task or workflow {name!r} in project {project!r}")


def missing_launch_plan(project: str, name: str, version: str | None) -> NotFoundError:
    what = f"version {version!r} of " if version else ""
    return NotFoundError(
        f"no {what}launch plan {name!r} in project {project!r}: register the file "
        "that defines it (`airfoil register FILE`)"
    )


def missing_project(name: str) -> NotFoundError:
    return NotFoundError(f"project {name!r} does not exist")


class RegistryStore(abc.ABC):
    """Projects, packages, and registered versions of tasks, workflows and launch plans."""

    # --- projects -----------------------------------------------------------------------

    @abc.abstractmethod
    def ensure_project(self, name: str, description: str = "", now: float | None = None) -> bool:
        """Create a project if it does not exist; True if it was created."""

    @abc.abstractmethod
    def list_projects(self) -> list[tuple[str, str, float]]:
        """Every project as ``(name, description, created_at)``, by name."""

    @abc.abstractmethod
    def get_project(self, name: str) -> tuple[str, str, float]:
        """One project. Raises NotFoundError."""

    # --- packages -----------------------------------------------------------------------

    @abc.abstractmethod
    def add_package(self, sha256: str, size: int, now: float) -> bool:
        """Record an uploaded code package; True if it was new."""

    @abc.abstractmethod
    def has_package(self, sha256: str) -> bool:
        """Whether a package with this hash was recorded."""

    # --- entities -----------------------------------------------------------------------

    @abc.abstractmethod
    def register(self, rows: list[EntityRow]) -> list[tuple[EntityRow, bool]]:
        """Register entity versions all at once; ``(row, created)`` for each (an existing
        version comes back as stored).

        Raises:
            VersionConflict: a version exists with other content (nothing is registered).
        """

    @abc.abstractmethod
    def get_entity(self, project: str, name: str, version: str | None) -> EntityRow:
        """One version (the newest registered if ``version`` is None). Raises NotFoundError."""

    def get_entity_head(self, project: str, name: str, version: str | None) -> EntityRow:
        """:meth:`get_entity` without the spec (``spec`` is ""): which version is meant, its
        package and content hash, for a caller that keeps decoded specs by version (a
        server's launches: a workflow's spec is most of its row, ~60 KB for a fan-out of
        100). Raises NotFoundError. Default: the whole row, its spec dropped."""
        return replace(self.get_entity(project, name, version), spec="")

    @abc.abstractmethod
    def list_entities(self, project: str, kind: str | None = None) -> list[EntityRow]:
        """Every version in a project (of one kind if given), newest first."""

    # --- launch plans -------------------------------------------------------------------

    @abc.abstractmethod
    def register_launch_plans(self, rows: list[LaunchPlanRow]) -> list[tuple[LaunchPlanRow, bool]]:
        """Register launch plan versions all at once; ``(row, created)`` for each."""

    @abc.abstractmethod
    def get_launch_plan(self, project: str, name: str, version: str | None) -> LaunchPlanRow:
        """One version (the newest registered if ``version`` is None). Raises NotFoundError."""

    @abc.abstractmethod
    def list_launch_plans(self, project: str) -> list[LaunchPlanRow]:
        """The newest version of every launch plan of a project, by name."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections (the default holds none)."""
