"""Secrets stored encrypted in the database (``airfoil secrets set``), read back by a server
and by local runs alike.

A secret is ``(project, name) -> value``. The value is encrypted with Fernet (AES-128-CBC +
HMAC-SHA256) under the key in ``AIRFOIL_SECRETS_KEY`` (``airfoil secrets new-key`` makes
one); the database holds only ciphertext. Fernet comes from the ``cryptography`` package
(``airfoil[server]``), imported when a box is made.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from airfoil.core.errors import ConfigError, NotFoundError
from airfoil.store.sql._server_tables import secrets_table

__all__ = ["StoredSecrets", "new_key"]


def _fernet_class() -> Any:
    try:
        from cryptography.fernet import Fernet
    except ImportError:
        raise ConfigError(
            "stored secrets need the cryptography package: pip install 'airfoil[server]'"
        ) from None
    return Fernet


def new_key() -> str:
    """A fresh key for ``AIRFOIL_SECRETS_KEY``."""
    return str(_fernet_class().generate_key().decode("ascii"))


class StoredSecrets:
    """Sets and reads the secrets of a database with one key.

    Raises:
        ConfigError: the key is missing or malformed, or ``cryptography`` is not installed.
    """

    def __init__(self, engine: sa.Engine, key: str | None) -> None:
        if not key:
            raise ConfigError(
                "no secrets key: set AIRFOIL_SECRETS_KEY (make one with `airfoil secrets new-key`)"
            )
        fernet = _fernet_class()
        try:
            self._fernet = fernet(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise ConfigError(
                "AIRFOIL_SECRETS_KEY is not a valid key (32 url-safe base64 bytes)"
            ) from None
        self.engine = engine

    def set(self, project: str, name: str, value: str) -> None:
        token = self._fernet.encrypt(value.encode()).decode("ascii")
        with self.engine.begin() as conn:
            conn.execute(
                secrets_table.delete().where(
                    secrets_table.c.project == project, secrets_table.c.name == name
                )
            )
            conn.execute(
                secrets_table.insert().values(
                    project=project, name=name, ciphertext=token, updated_at=time.time()
                )
            )

    def delete(self, project: str, name: str) -> None:
        with self.engine.begin() as conn:
            res = conn.execute(
                secrets_table.delete().where(
                    secrets_table.c.project == project, secrets_table.c.name == name
                )
            )
        if res.rowcount == 0:
            raise NotFoundError(f"no secret {name!r} in project {project!r}")

    def names(self, project: str) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(secrets_table.c.name)
                .where(secrets_table.c.project == project)
                .order_by(secrets_table.c.name)
            ).all()
        return [r.name for r in rows]

    def get_many(self, project: str, names: tuple[str, ...]) -> dict[str, str]:
        """The decrypted values of those of ``names`` that exist in ``project``."""
        if not names:
            return {}
        from cryptography.fernet import InvalidToken

        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(secrets_table.c.name, secrets_table.c.ciphertext).where(
                    secrets_table.c.project == project, secrets_table.c.name.in_(names)
                )
            ).all()
        out: dict[str, str] = {}
        for r in rows:
            try:
                out[r.name] = self._fernet.decrypt(r.ciphertext.encode("ascii")).decode()
            except InvalidToken:
                raise ConfigError(
                    f"secret {r.name!r} cannot be decrypted with this AIRFOIL_SECRETS_KEY"
                ) from None
        return out
