"""Named cache scopes and their members: which projects may read and write a shared scope.

A task with ``cache_scope="features"`` keeps its cache entries in ``shared:features`` instead of
its project's own scope. Who may use such a scope is configuration an admin keeps in the
metadata store (``airfoil cache scopes ...``, or the server's ``/cache-scopes`` API): a scope is
*declared* with a name, and each member project is granted ``read`` (its runs may hit the
scope's entries, but never write one) or ``write`` (read and write). A member ``*`` stands for
every project.

:class:`CacheScopeStore` is a small abstract class that the metadata stores also inherit, so the
engine checks a run's access on whatever store it drives with. Backends pass the shared suite in
:mod:`airfoil.testing.cache_scope_conformance`.

Invariants every backend keeps:

- A scope is keyed by its name; creating one that exists changes nothing (``False``).
- A member is keyed by ``(scope, project)``; granting again replaces its access (so a
  revoke-then-grant or a write-to-read downgrade is one row, never two). Granting in a scope
  that was not declared raises :class:`~airfoil.core.errors.NotFoundError`.
- Deleting a scope deletes its members with it (a scope declared again later starts empty).
- :meth:`CacheScopeStore.cache_scope_access` is the strongest of the project's own row and
  the ``*`` row; ``None`` when the scope is not declared, ``""`` when the project is no member.
"""

from __future__ import annotations

import abc
import re

import msgspec

from airfoil.core.errors import ConfigError

__all__ = [
    "ACCESS_LEVELS",
    "CacheScope",
    "CacheScopeStore",
    "check_access",
    "check_scope_name",
    "stronger",
]

#: Access a member may be granted, weakest first.
ACCESS_LEVELS = ("read", "write")

#: A scope's name: what ``cache_scope=`` takes (the SDK checks the same pattern).
_SCOPE_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
#: A member: a project's name (as a server takes it) or ``*``.
_PROJECT = re.compile(r"\*|[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")


class CacheScope(msgspec.Struct, frozen=True, omit_defaults=True):
    """A declared cache scope and its members.

    Attributes:
        name: the name tasks give as ``cache_scope=``.
        description: free text (what the scope holds, who runs it).
        created_at: when it was declared (epoch seconds).
        members: project (or ``*``) -> ``read`` or ``write``.
    """

    name: str
    description: str = ""
    created_at: float = 0.0
    members: dict[str, str] = {}


def check_scope_name(name: str) -> str:
    """``name`` if it is a valid scope name.

    Raises:
        ConfigError: it is not (1-100 letters, digits, ``_``, ``.`` and ``-``, as
            ``cache_scope=`` takes).
    """
    if not isinstance(name, str) or not _SCOPE_NAME.fullmatch(name):
        raise ConfigError(
            f"invalid cache scope name {name!r}: use 1-100 letters, digits, '_', '.' and '-' "
            "(as cache_scope= takes)"
        )
    return name


def check_access(project: str, access: str) -> None:
    """Check a grant's member and access level.

    Raises:
        ConfigError: the project is not a project name or ``*``, or the access is neither
            ``read`` nor ``write``.
    """
    if not isinstance(project, str) or not _PROJECT.fullmatch(project):
        raise ConfigError(
            f"invalid project {project!r}: a project's name (1-100 letters, digits, '_', '.' "
            "and '-') or '*' for every project"
        )
    if access not in ACCESS_LEVELS:
        raise ConfigError(f"invalid access {access!r}: use 'read' or 'write'")


def stronger(a: str, b: str) -> str:
    """The stronger of two access levels (``""``: none)."""
    rank = {"": 0, "read": 1, "write": 2}
    return a if rank.get(a, 0) >= rank.get(b, 0) else b


class CacheScopeStore(abc.ABC):
    """Declared cache scopes and their members (see the module's invariants)."""

    @abc.abstractmethod
    def create_cache_scope(self, name: str, now: float, description: str = "") -> bool:
        """Declare scope ``name`` with no members; ``False`` if it was declared already."""

    @abc.abstractmethod
    def delete_cache_scope(self, name: str) -> bool:
        """Remove a scope and its members; ``False`` if it was not declared."""

    @abc.abstractmethod
    def list_cache_scopes(self) -> list[CacheScope]:
        """Every declared scope with its members, by name."""

    @abc.abstractmethod
    def grant_cache_scope(self, name: str, project: str, access: str, now: float) -> None:
        """Make ``project`` (or ``*``) a member of ``name`` with ``access``.

        Raises:
            NotFoundError: the scope is not declared.
            ConfigError: a bad project name or access level.
        """

    @abc.abstractmethod
    def revoke_cache_scope(self, name: str, project: str) -> bool:
        """Remove ``project``'s membership; ``False`` if it was no member."""

    @abc.abstractmethod
    def cache_scope_access(self, name: str, project: str) -> str | None:
        """What ``project`` may do in scope ``name``: ``write``, ``read``, ``""`` (no
        member) or ``None`` (the scope is not declared)."""

    def get_cache_scope(self, name: str) -> CacheScope | None:
        """One declared scope, or ``None``."""
        return next((s for s in self.list_cache_scopes() if s.name == name), None)
