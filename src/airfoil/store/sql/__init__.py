"""The SQL metadata store: SQLite (embedded default) and PostgreSQL, via SQLAlchemy Core.

Importing this package connects to nothing and creates no file; a store connects when it is
constructed. Alembic is imported only when a database needs migrating.

- :class:`SqlMetaStore` -- the store; opening it migrates an empty or older database.
- :func:`migrate` / :func:`downgrade` -- run the Alembic migrations explicitly.
- :class:`RetryPolicy` -- how long and how often the store retries a transient failure.
- :class:`SqlRegistryStore` -- the registry store (projects, packages, registered versions)
  in the same database.
- :class:`SqlArtifactStore` -- the artifact store (versions, aliases, their trail), likewise.

Every name is imported on first use (SQLAlchemy, the metadata store's chain), so importing
one module of the package alone loads only what that module needs.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airfoil.store.sql._artifacts import SqlArtifactStore
    from airfoil.store.sql._migrate import downgrade, migrate
    from airfoil.store.sql._registry import SqlRegistryStore
    from airfoil.store.sql._retry import RetryPolicy
    from airfoil.store.sql._store import SqlMetaStore

__all__ = [
    "RetryPolicy",
    "SqlArtifactStore",
    "SqlMetaStore",
    "SqlRegistryStore",
    "downgrade",
    "migrate",
]


def __getattr__(name: str) -> Any:
    # Each name is imported on first use, so a module of this package imported alone (the
    # plain-SQLite artifact store a service opens, a table definition) does not load the
    # metadata store's chain (``_store`` and its mixins, ``_migrate``) with it.
    value = _load(name)
    globals()[name] = value  # found at once next time
    return value


def _load(name: str) -> Any:
    if name == "SqlMetaStore":
        from airfoil.store.sql._store import SqlMetaStore

        return SqlMetaStore
    if name in ("migrate", "downgrade"):
        from airfoil.store.sql import _migrate

        return getattr(_migrate, name)
    if name == "RetryPolicy":
        from airfoil.store.sql._retry import RetryPolicy

        return RetryPolicy
    if name == "SqlRegistryStore":
        from airfoil.store.sql._registry import SqlRegistryStore

        return SqlRegistryStore
    if name == "SqlArtifactStore":
        from airfoil.store.sql._artifacts import SqlArtifactStore

        return SqlArtifactStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
