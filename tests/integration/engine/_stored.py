"""Helper of the engine tests: a value must appear nowhere a local run stores anything."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def assert_not_stored(home: Path, secret: str) -> None:
    """No row of any table of the home's SQLite store, and no file under the home (blobs,
    logs, the database's own files), holds ``secret``."""
    db = sqlite3.connect(home / "airfoil.db")
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):
                assert secret not in repr(row), table
    finally:
        db.close()
    for path in home.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
