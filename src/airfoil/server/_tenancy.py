"""Which project may use which content: code packages and launch-input uploads.

Bytes are stored by content (a package once, under its SHA-256), but the right to *name*
them is per project: a project may register code from a package only if the package was
uploaded to it (or granted to it, below), and a launch may name an upload only of its own
project. Naming another project's package or upload by its hash is refused (as not found, so
it reveals nothing) unless the caller may read that project; then the package is granted to
the caller's project too, so its executions keep working.

Invariants:

- ``server_package_projects`` holds ``(project, sha256)`` for every upload of a package to a
  project and every grant; rows are never removed while the project's entities use the
  package.
- Launch-input uploads live under ``uploads/<project>/<sha256[:2]>/<sha256>`` (see
  :mod:`airfoil.server._uploads`).
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from airfoil.core.errors import NotFoundError
from airfoil.server._registry import Registry
from airfoil.store.sql._server_tables import package_projects

__all__ = ["MayRead", "check_package", "grant_package", "package_projects"]

#: Whether the caller may read a project (``lambda p: False``: only its own).
MayRead = Callable[[str], bool]


def grant_package(registry: Registry, project: str, sha256: str, now: float) -> None:
    """Let ``project`` use package ``sha256`` (idempotent)."""
    t = package_projects
    with registry.engine.begin() as conn:
        found = conn.execute(
            sa.select(t.c.sha256).where(t.c.project == project, t.c.sha256 == sha256)
        ).first()
        if found is not None:
            return
        try:
            with conn.begin_nested():
                conn.execute(t.insert().values(project=project, sha256=sha256, created_at=now))
        except sa.exc.IntegrityError:  # granted concurrently
            pass


def _owners(registry: Registry, sha256: str) -> list[str]:
    t = package_projects
    with registry.engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.project).where(t.c.sha256 == sha256).order_by(t.c.project)
        ).all()
    return [r.project for r in rows]


def check_package(
    registry: Registry, project: str, sha256: str, may_read: MayRead, now: float
) -> None:
    """Check that ``project`` may register code from package ``sha256``.

    Raises:
        NotFoundError: the package was not uploaded to ``project``, and the caller may read
            no project it was uploaded to (the same answer as for a package never uploaded).
    """
    owners = _owners(registry, sha256) if registry.has_package(sha256) else []
    if project in owners:
        return
    if any(may_read(p) for p in owners):
        grant_package(registry, project, sha256, now)
        return
    raise NotFoundError(
        f"code package {sha256[:12]} was not uploaded to project {project!r}: PUT it to "
        f"/api/v1/projects/{project}/packages/{sha256} first"
    )
