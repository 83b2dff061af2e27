"""The schema revisions this code knows, without importing SQLAlchemy.

Opening a store compares the database's Alembic revision with :data:`HEAD_REVISION` (one
query); only a database that is behind makes it import SQLAlchemy and Alembic. A new
revision is added here, in ``airfoil/store/migrations/versions`` and in ``_schema`` (or
``_server_tables``); then ``python scripts/render_sqlite_ddl.py`` renders the DDL a new
SQLite database is created with (until then it is created through SQLAlchemy; a test says so).
"""

__all__ = ["HEAD_REVISION", "KNOWN_REVISIONS"]

#: Every Alembic revision this code knows, oldest first.
KNOWN_REVISIONS = (
    "0001",
    "0002",
    "0003",
    "0004",
    "0005",
    "0006",
    "0007",
    "0008",
    "0009",
    "0010",
    "0011",
    "0012",
    "0013",
    "0014",
    "0015",
    "0016",
    "0017",
    "0018",
    "0019",
    "0020",
    "0021",
    "0022",
)
#: The revision a database must be at for this code to use it.
HEAD_REVISION = KNOWN_REVISIONS[-1]
