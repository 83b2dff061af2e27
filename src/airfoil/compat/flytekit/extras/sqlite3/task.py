"""``flytekit.extras.sqlite3.task``."""

from airfoil.compat.flytekit._sqlite import SQLite3Config, SQLite3Task

__all__ = ["SQLite3Config", "SQLite3Task"]
