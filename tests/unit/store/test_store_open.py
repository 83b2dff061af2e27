"""open_meta_store maps URLs to backends; importing the store packages does nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from airfoil.core.errors import ConfigError
from airfoil.store._open import open_meta_store
from airfoil.store.memory import MemoryMetaStore

pytestmark = pytest.mark.unit


def test_memory_url_opens_a_memory_store(tmp_path: Path) -> None:
    assert isinstance(open_meta_store("memory://", str(tmp_path)), MemoryMetaStore)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "url",
    ["", "redis://localhost", "memory://x", "file:///tmp/a.db", "/tmp/a.db", "mysql://u@h/d"],
)
def test_unsupported_urls_are_config_errors(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"memory://.*sqlite:///.*postgresql\+psycopg://"):
        open_meta_store(url, str(tmp_path))


def test_postgresql_without_driver_names_the_driver(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"postgresql\+psycopg://") as info:
        open_meta_store("postgresql://user:s3cret@db/airfoil", str(tmp_path))
    assert "s3cret" not in str(info.value)


def test_importing_the_store_connects_to_nothing_and_writes_nothing(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "import airfoil.store, airfoil.store._open, airfoil.store.memory\n"
        "assert 'sqlalchemy' not in sys.modules, 'store._open imports SQLAlchemy'\n"
        "import airfoil.store.sql, airfoil.testing.conformance\n"
        "import airfoil.store.migrations.env\n"
        "for name in ('alembic.command', 'psycopg', 'sqlite3'):\n"
        "    assert name not in sys.modules, name\n"
    )
    env = {**os.environ, "HOME": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True)
    assert list(tmp_path.iterdir()) == []


def test_the_precompiled_sqlite_statements_are_current() -> None:
    from sqlalchemy.dialects import sqlite

    from airfoil.store.sql._sqlite_sql import SQL
    from airfoil.store.sql._statements import compile_all

    fresh = compile_all(sqlite.dialect(paramstyle="named"))
    assert fresh == SQL, "stale: run python -m airfoil.store.sql._statements to regenerate"


def test_opening_the_embedded_store_never_imports_sqlalchemy(tmp_path: Path) -> None:
    """The default store opens (migrating a fresh file needs Alembic; an existing one not)."""
    db = tmp_path / "a.db"
    code = (
        "import sys\n"
        "from airfoil.store.sql import SqlMetaStore\n"
        f"SqlMetaStore('sqlite:///{db}').close()\n"  # creates and migrates (imports Alembic)
        "for m in [m for m in sys.modules if m.startswith(('sqlalchemy', 'alembic'))]:\n"
        "    del sys.modules[m]\n"
        f"s = SqlMetaStore('sqlite:///{db}')\n"
        "s.list_executions(project='p'); s.count_executions(); s.close()\n"
        "print(sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'alembic'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_sqlite_s_positional_writes_bind_the_named_statements_parameters_in_order() -> None:
    from airfoil.store.sql._sql_text import positional, sql_for

    s = sql_for("sqlite")
    assert s.positional is not None
    assert s.positional.insert_event == (
        "INSERT INTO events (execution_id, seq, record, cause_id) VALUES (?, ?, ?, ?)"
    )
    assert s.positional.upsert_node.endswith("DO UPDATE SET record = excluded.record")
    with pytest.raises(ValueError, match=r"expected the parameters \('seq', 'execution_id'"):
        positional(s.insert_event, ("seq", "execution_id", "record", "cause_id"))
