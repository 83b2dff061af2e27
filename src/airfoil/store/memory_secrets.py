"""The in-memory :class:`~airfoil.store.secrets.SecretStore`: tokens in a dict, for tests and
``memory://`` runtimes. It keeps ciphertext only, as the SQL store does."""

from __future__ import annotations

import threading

from airfoil.store.secrets import SecretStore

__all__ = ["MemorySecretStore"]


class MemorySecretStore(SecretStore):
    """Secrets kept in this process, encrypted with ``key``.

    Args:
        key: the Fernet key.
        shared: another memory store whose tokens this one reads and writes (a second
            opening of the same storage, perhaps with another key); None: a new, empty one.

    Raises:
        ConfigError: the key is missing or malformed, or ``cryptography`` is not installed.
    """

    def __init__(self, key: str | None, *, shared: MemorySecretStore | None = None) -> None:
        super().__init__(key)
        self._tokens: dict[tuple[str, str], str] = {} if shared is None else shared._tokens
        self._lock: threading.Lock = threading.Lock() if shared is None else shared._lock

    def _write(self, project: str, name: str, token: str) -> None:
        with self._lock:
            self._tokens[(project, name)] = token

    def _read(self, project: str, names: tuple[str, ...]) -> dict[str, str]:
        with self._lock:
            return {n: self._tokens[(project, n)] for n in names if (project, n) in self._tokens}

    def _drop(self, project: str, name: str) -> bool:
        with self._lock:
            return self._tokens.pop((project, name), None) is not None

    def _names(self, project: str) -> list[str]:
        with self._lock:
            return [n for p, n in self._tokens if p == project]
