"""The SQL metadata store: SQLite (embedded default) and PostgreSQL, via SQLAlchemy Core.

Importing this package connects to nothing and creates no file; a store connects when it is
constructed. Alembic is imported only when a database needs migrating.

- :class:`SqlMetaStore` -- the store; opening it migrates an empty or older database.
- :func:`migrate` / :func:`downgrade` -- run the Alembic migrations explicitly.
"""

from airfoil.store.sql._migrate import downgrade, migrate
from airfoil.store.sql._store import SqlMetaStore

__all__ = ["SqlMetaStore", "downgrade", "migrate"]
