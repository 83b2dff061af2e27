"""The SQL :class:`~airfoil.store.secrets.SecretStore`: tokens in the ``server_secrets`` table
of the registry's database, written by ``airfoil secrets set`` and read by a server and by
local runs alike."""

from __future__ import annotations

import time

import sqlalchemy as sa

from airfoil.store.secrets import SecretStore, new_key
from airfoil.store.sql._server_tables import secrets_table

__all__ = ["SqlSecretStore", "new_key"]


class SqlSecretStore(SecretStore):
    """The secrets of a database, encrypted with ``key``.

    Args:
        engine: the database (its schema migrated); the caller owns and disposes it.
        key: the Fernet key.

    Raises:
        ConfigError: the key is missing or malformed, or ``cryptography`` is not installed.
    """

    def __init__(self, engine: sa.Engine, key: str | None) -> None:
        super().__init__(key)
        self.engine = engine

    def _write(self, project: str, name: str, token: str) -> None:
        t = secrets_table
        with self.engine.begin() as conn:
            conn.execute(t.delete().where(t.c.project == project, t.c.name == name))
            conn.execute(
                t.insert().values(
                    project=project, name=name, ciphertext=token, updated_at=time.time()
                )
            )

    def _read(self, project: str, names: tuple[str, ...]) -> dict[str, str]:
        t = secrets_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.name, t.c.ciphertext).where(
                    t.c.project == project, t.c.name.in_(names)
                )
            ).all()
        return {r.name: r.ciphertext for r in rows}

    def _drop(self, project: str, name: str) -> bool:
        t = secrets_table
        with self.engine.begin() as conn:
            res = conn.execute(t.delete().where(t.c.project == project, t.c.name == name))
        return bool(res.rowcount)

    def _names(self, project: str) -> list[str]:
        t = secrets_table
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.name).where(t.c.project == project)).all()
        return [r.name for r in rows]
