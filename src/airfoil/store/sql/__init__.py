"""The SQL metadata store: SQLite (embedded default) and PostgreSQL, via SQLAlchemy Core.

Importing this package connects to nothing and creates no file; a store connects when it is
constructed. Alembic is imported only when a database needs migrating.

- :class:`SqlMetaStore` -- the store; opening it migrates an empty or older database.
- :func:`migrate` / :func:`downgrade` -- run the Alembic migrations explicitly.
- :class:`RetryPolicy` -- how long and how often the store retries a transient failure.
- :class:`SqlRegistryStore` -- the registry store (projects, packages, registered versions)
  in the same database (imported on first use: it needs SQLAlchemy).
- :class:`SqlArtifactStore` -- the artifact store (versions, aliases, their trail), likewise.
"""

from typing import TYPE_CHECKING, Any

from airfoil.store.sql._migrate import downgrade, migrate
from airfoil.store.sql._retry import RetryPolicy
from airfoil.store.sql._store import SqlMetaStore

if TYPE_CHECKING:
    from airfoil.store.sql._artifacts import SqlArtifactStore
    from airfoil.store.sql._registry import SqlRegistryStore

__all__ = [
    "RetryPolicy",
    "SqlArtifactStore",
    "SqlMetaStore",
    "SqlRegistryStore",
    "downgrade",
    "migrate",
]


def __getattr__(name: str) -> Any:
    if name == "SqlRegistryStore":
        from airfoil.store.sql._registry import SqlRegistryStore

        return SqlRegistryStore
    if name == "SqlArtifactStore":
        from airfoil.store.sql._artifacts import SqlArtifactStore

        return SqlArtifactStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
