"""Secrets: encrypted at rest, handed only to the attempts of tasks that ask for them.

The box itself is the store's (:class:`airfoil.store.sql._secrets.SqlSecretStore`: local runs
read the same table). When a driver submits an attempt of a task whose spec lists
``secret_requests``, it decrypts those secrets of the execution's project and puts them in the
:class:`~airfoil.executors.base.AttemptRequest`; the worker exposes them as
``current_context().secrets``. Requests are never stored, so secrets never reach the metadata
store, logs or API responses (the API has no endpoint that reads a value back).
"""

from __future__ import annotations

from airfoil.server._registry import Registry
from airfoil.store.sql._secrets import SqlSecretStore, new_key
from airfoil.store.sql._server_tables import secrets_table

__all__ = ["SecretBox", "new_key", "secrets_table"]


class SecretBox(SqlSecretStore):
    """The stored secrets of a server's registry database with one key.

    Raises:
        ConfigError: the key is missing or malformed.
    """

    def __init__(self, registry: Registry, key: str | None) -> None:
        super().__init__(registry.engine, key)
        self.registry = registry
