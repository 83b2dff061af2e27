"""The SQL metadata store: SQLite (embedded default) and PostgreSQL, via SQLAlchemy Core.

Importing this package connects to nothing and creates no file; a store connects when it is
constructed. Alembic is imported only when a database needs migrating.

- :class:`SqlMetaStore` -- the store; opening it migrates an empty or older database.
- :func:`migrate` / :func:`downgrade` -- run the Alembic migrations explicitly.
- :class:`RetryPolicy` -- how long and how often the store retries a transient failure.
- :class:`SqlRegistryStore` -- the registry store (projects, packages, registered versions)
  in the same database (imported on first use: it needs SQLAlchemy).
"""

from typing import TYPE_CHECKING, Any

from airfoil.store.sql._migrate import downgrade, migrate
from airfoil.store.sql._retry import RetryPolicy
from airfoil.store.sql._store import SqlMetaStore

if TYPE_CHECKING:
    from airfoil.store.sql._registry import SqlRegistryStore

__all__ = ["RetryPolicy", "SqlMetaStore", "SqlRegistryStore", "downgrade", "migrate"]


def __getattr__(name: str) -> Any:
    if name == "SqlRegistryStore":
        from airfoil.store.sql._registry import SqlRegistryStore

        return SqlRegistryStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
