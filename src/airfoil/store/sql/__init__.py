"""The SQL metadata store: SQLite (embedded default) and PostgreSQL, via SQLAlchemy Core.

Importing this package connects to nothing and creates no file; a store connects when it is
constructed. Alembic is imported only when a database needs migrating.

- :class:`SqlMetaStore` -- the store; opening it migrates an empty or older database.
- :func:`migrate` / :func:`downgrade` -- run the Alembic migrations explicitly.
- :class:`RetryPolicy` -- how long and how often the store retries a transient failure.
"""

from airfoil.store.sql._migrate import downgrade, migrate
from airfoil.store.sql._retry import RetryPolicy
from airfoil.store.sql._store import SqlMetaStore

__all__ = ["RetryPolicy", "SqlMetaStore", "downgrade", "migrate"]
