"""A SQLite database Airfoil creates is its user's alone: the home folder it makes ``0700``,
the file ``0600`` (and SQLite's ``-wal``/``-shm`` after it); what exists keeps its mode."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from airfoil.core.errors import ConfigError
from airfoil.store.sql._connect import private_sqlite_file

pytestmark = pytest.mark.unit


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_database_and_its_folder_are_private(tmp_path: Path) -> None:
    db = tmp_path / "home" / "airfoil.db"
    private_sqlite_file(str(db))
    assert _mode(db.parent) == 0o700 and _mode(db) == 0o600
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x)")  # an empty file is an empty database
    assert _mode(Path(f"{db}-wal")) == 0o600
    conn.close()


def test_what_exists_keeps_its_mode(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    db = home / "airfoil.db"
    db.write_bytes(b"")
    os.chmod(db, 0o640)
    private_sqlite_file(str(db))
    assert _mode(home) == 0o755 and _mode(db) == 0o640


def test_a_folder_that_cannot_be_made_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="cannot create the SQLite database"):
        private_sqlite_file(str(tmp_path / "file" / "airfoil.db"))
