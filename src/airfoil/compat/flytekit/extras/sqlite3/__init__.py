"""``flytekit.extras.sqlite3``."""
