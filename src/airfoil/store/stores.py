"""The stores a runtime works with, as one record: ``Stores(meta, schedules, registry,
secrets, blobs)``.

An entry point (the CLI and ``wf(x=1)`` through :mod:`airfoil.local`, the server through
``create_app``) opens them once with :func:`open_stores` and passes them down; nothing below
opens a store of its own.

- ``meta``: executions, nodes, attempts, events, cache, leases, the control inbox.
- ``schedules``: launch plans' schedules (every Airfoil metadata store is one: the same
  object as ``meta``).
- ``registry``: projects, code packages and registered task/workflow and launch plan
  versions, on the metadata store's database (memory for ``memory://``). Opened on first
  use, so a local run that never registers anything pays nothing for it.
- ``secrets``: where the secrets tasks ask for come from (:class:`SecretSource`): locally the
  environment (``AIRFOIL_SECRET_<NAME>``), then the encrypted table (``airfoil secrets set``,
  with ``AIRFOIL_SECRETS_KEY``); on a server the encrypted table.
- ``blobs``: bytes (offloaded values, logs, code packages), with ``blob_url`` for workers
  that open it themselves.

Invariant: importing this module opens nothing and imports no backend.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from airfoil.core.errors import ConfigError
from airfoil.store._schedules import ScheduleStore
from airfoil.store.base import BlobStore, MetaStore
from airfoil.store.registry import RegistryStore

__all__ = [
    "EnvSecrets",
    "LocalSecrets",
    "NoSecrets",
    "SecretSource",
    "Stores",
    "open_registry_store",
    "open_stores",
    "secret_env_name",
]


@runtime_checkable
class SecretSource(Protocol):
    """Where the secrets a task asks for come from, by project."""

    def get_many(self, project: str, names: tuple[str, ...]) -> dict[str, str]:
        """The values of those of ``names`` that exist in ``project`` (absent ones left out)."""
        ...


def secret_env_name(name: str) -> str:
    """The environment variable a secret is read from locally: ``AIRFOIL_SECRET_<NAME>``."""
    return "AIRFOIL_SECRET_" + "".join(c if c.isalnum() else "_" for c in name).upper()


class EnvSecrets:
    """Local runs' secrets: ``AIRFOIL_SECRET_<NAME>`` of the environment as it is at each
    call (every project sees the same ones)."""

    def get_many(self, project: str, names: tuple[str, ...]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name in names:
            value = os.environ.get(secret_env_name(name))
            if value is not None:
                out[name] = value
        return out


class LocalSecrets(EnvSecrets):
    """Local runs' secrets: ``AIRFOIL_SECRET_<NAME>`` of the environment first, then those
    stored with ``airfoil secrets set`` in the database (the registry's: SQLite in the home
    folder by default), decrypted with ``AIRFOIL_SECRETS_KEY`` when it is set.

    Both are read at each call. A database with no secrets table yet has no stored secrets.

    Raises (from :meth:`get_many`):
        ConfigError: a stored secret cannot be decrypted with the key, the key is malformed,
            or ``cryptography`` is missing.
    """

    def __init__(self, registry: Callable[[], RegistryStore]) -> None:
        self._registry = registry
        self._box: tuple[str, SecretSource] | None = None

    def get_many(self, project: str, names: tuple[str, ...]) -> dict[str, str]:
        out = super().get_many(project, names)
        rest = tuple(n for n in names if n not in out)
        if rest:
            box = self._stored()
            if box is not None:
                out.update(box.get_many(project, rest))
        return out

    def _stored(self) -> SecretSource | None:
        key = os.environ.get("AIRFOIL_SECRETS_KEY")
        if not key:
            return None
        if self._box is None or self._box[0] != key:
            engine = getattr(self._registry(), "engine", None)
            if engine is None:  # a memory registry keeps no secrets
                return None
            from airfoil.store.sql._secrets import SqlSecretStore

            self._box = (key, SqlSecretStore(engine, key))
        return self._box[1]


class NoSecrets:
    """No secrets at all (a server started without ``AIRFOIL_SECRETS_KEY``)."""

    def get_many(self, project: str, names: tuple[str, ...]) -> dict[str, str]:
        return {}


class Stores:
    """The stores of one runtime (see the module docstring).

    Args:
        meta: the metadata store.
        blobs: the blob store, and ``blob_url`` its URL.
        registry: the registry store, or a function that opens it on first use.
        secrets: the secret source (default: :class:`EnvSecrets`).

    Raises:
        ConfigError: ``meta`` keeps no schedules (a third-party metadata store).
    """

    def __init__(
        self,
        meta: MetaStore,
        blobs: BlobStore,
        *,
        blob_url: str,
        registry: RegistryStore | Callable[[], RegistryStore],
        secrets: SecretSource | None = None,
    ) -> None:
        if not isinstance(meta, ScheduleStore):
            raise ConfigError(f"the metadata store {meta!r} does not keep schedules")
        self.meta = meta
        self.schedules: ScheduleStore = meta
        self.blobs = blobs
        self.blob_url = blob_url
        self.secrets: SecretSource = secrets if secrets is not None else EnvSecrets()
        self._registry = registry if isinstance(registry, RegistryStore) else None
        self._open_registry = None if isinstance(registry, RegistryStore) else registry
        self._lock = threading.Lock()

    @property
    def registry(self) -> RegistryStore:
        """The registry store (opened now if it was not yet).

        Raises:
            StoreError: the database cannot be reached or migrated.
        """
        found = self._registry
        if found is not None:
            return found
        with self._lock:
            if self._registry is None:
                assert self._open_registry is not None
                self._registry = self._open_registry()
            return self._registry

    @property
    def registry_opened(self) -> bool:
        """Whether the registry store has been opened (it is on first use)."""
        return self._registry is not None

    def close(self) -> None:
        """Close the registry (if opened) and the metadata store."""
        with self._lock:
            registry, self._registry = self._registry, None
        if registry is not None:
            registry.close()
        self.meta.close()


def open_registry_store(database_url: str | None, home: str) -> RegistryStore:
    """The registry store on the metadata store's database: memory for ``memory://``, else
    the SQL one (the embedded default: SQLite at ``{home}/airfoil.db``).

    Raises:
        StoreError: the database cannot be reached or migrated.
    """
    if database_url == "memory://":
        from airfoil.store.memory_registry import MemoryRegistryStore

        return MemoryRegistryStore()
    from airfoil.store.sql._registry import SqlRegistryStore

    if database_url is None:
        path = os.path.join(os.path.abspath(os.path.expanduser(home)), "airfoil.db")
        database_url = "sqlite:///" + path
    return SqlRegistryStore(database_url)


def open_stores(
    database_url: str | None,
    home: str,
    blob_url: str,
    *,
    durability: str = "process",
    retry_budget_s: float | None = None,
    registry: RegistryStore | None = None,
    secrets: SecretSource | None = None,
) -> Stores:
    """Open the stores settings name (the registry on first use, unless one is given).

    Args:
        database_url: the metadata store (None: SQLite in ``home``; see
            :func:`~airfoil.store._open.open_meta_store`).
        home: the Airfoil home folder.
        blob_url: the blob store (a folder or an fsspec URL).
        durability: ``process`` or ``power``.
        retry_budget_s: how long a SQL store retries a transient failure (None: its default).
        registry: a registry store already open (the server's, which adds API keys).
        secrets: the secret source (default: :class:`LocalSecrets`: the environment, then
            the secrets stored in the database when ``AIRFOIL_SECRETS_KEY`` is set).

    Raises:
        ConfigError: a URL names no supported backend.
        StoreError: the database cannot be reached.
    """
    from airfoil.store._open import open_meta_store
    from airfoil.store.blob import open_blob_store

    meta = open_meta_store(database_url, home, durability, retry_budget_s=retry_budget_s)
    blobs = open_blob_store(blob_url, durability)
    remove = getattr(blobs, "remove_stale_temporaries", None)
    if remove is not None:
        remove()  # temporaries a crashed writer left behind
    opener: RegistryStore | Callable[[], RegistryStore]
    if registry is not None:
        opener = registry
    else:

        def opener() -> RegistryStore:
            return open_registry_store(database_url, home)

    stores = Stores(meta, blobs, blob_url=blob_url, registry=opener, secrets=secrets)
    if secrets is None:
        stores.secrets = LocalSecrets(lambda: stores.registry)
    return stores
