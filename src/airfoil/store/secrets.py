"""Stored secrets: ``(project, name) -> value``, encrypted at rest, behind one abstract class.

:class:`SecretStore` owns the rules every backend shares; a backend only keeps tokens
(ciphertext) by ``(project, name)``:

- A value is encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under the store's key
  (``AIRFOIL_SECRETS_KEY``; ``airfoil secrets new-key`` makes one) before a backend sees it,
  so a backend (memory, the SQL table ``server_secrets``) holds only ciphertext.
- A token that does not decrypt under the key (another key, a tampered row) is a
  :class:`~airfoil.core.errors.ConfigError` naming the secret, never a garbled value.
- Projects are separate: a project never sees another's secret of the same name.
- Names are 1-100 letters, digits, ``_``, ``.`` or ``-`` (``db.password``, ``hf_token``);
  setting, reading or deleting any other name is a ``ConfigError`` naming it.
- Neither the key nor a value ever appears in a ``repr``, an error or a log line.

Backends: :class:`~airfoil.store.memory_secrets.MemorySecretStore` and
:class:`~airfoil.store.sql._secrets.SqlSecretStore`; both pass
:mod:`airfoil.testing.secret_conformance`. Fernet comes from the ``cryptography`` package
(``airfoil[server]``), imported when a store is made.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from typing import Any

from airfoil.core.errors import ConfigError, NotFoundError
from airfoil.core.projects import project_name_problem
from airfoil.core.secret_names import SECRET_NAME, secret_name_problem

__all__ = ["SECRET_NAME", "SecretStore", "new_key", "secret_name_problem"]


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


def _check(problem: str | None) -> None:
    if problem is not None:
        raise ConfigError(problem)


class SecretStore(abc.ABC):
    """The secrets of a storage, read and written with one key (see the module docstring).

    Args:
        key: the Fernet key (``AIRFOIL_SECRETS_KEY``).

    Raises:
        ConfigError: the key is missing or malformed, or ``cryptography`` is not installed.
    """

    def __init__(self, key: str | None) -> None:
        if not key:
            raise ConfigError(
                "no secrets key: set AIRFOIL_SECRETS_KEY (make one with `airfoil secrets new-key`)"
            )
        fernet = _fernet_class()
        try:
            self.__fernet = fernet(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise ConfigError(
                "AIRFOIL_SECRETS_KEY is not a valid key (32 url-safe base64 bytes)"
            ) from None

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"  # never the key, never a value

    # --- the rules ----------------------------------------------------------------------

    def set(self, project: str, name: str, value: str) -> None:
        """Store ``value`` as secret ``name`` of ``project`` (replacing any value it had).

        Raises:
            ConfigError: the project or the name is invalid, or ``value`` is not a string.
        """
        _check(project_name_problem(project))
        _check(secret_name_problem(name))
        if not isinstance(value, str):
            raise ConfigError(f"secret {name!r}: a value is a string, not {type(value).__name__}")
        self._write(project, name, self.__fernet.encrypt(value.encode()).decode("ascii"))

    def get(self, project: str, name: str) -> str:
        """The value of secret ``name`` of ``project``.

        Raises:
            ConfigError: the project or the name is invalid, or the secret does not decrypt
                with this key.
            NotFoundError: the project has no such secret.
        """
        _check(project_name_problem(project))
        _check(secret_name_problem(name))
        found = self.get_many(project, (name,))
        if name not in found:
            raise NotFoundError(f"no secret {name!r} in project {project!r}")
        return found[name]

    def get_many(self, project: str, names: Iterable[str]) -> dict[str, str]:
        """The values of those of ``names`` that ``project`` has (the others left out: a name
        that is not valid was never stored). Makes this a
        :class:`~airfoil.store.stores.SecretSource`.

        Raises:
            ConfigError: one of them does not decrypt with this key (naming it).
        """
        from cryptography.fernet import InvalidToken

        wanted = tuple(dict.fromkeys(n for n in names if secret_name_problem(n) is None))
        if not wanted:
            return {}
        out: dict[str, str] = {}
        for name, token in self._read(project, wanted).items():
            try:
                out[name] = self.__fernet.decrypt(token.encode("ascii")).decode()
            except (InvalidToken, UnicodeError):
                raise ConfigError(
                    f"secret {name!r} of project {project!r} cannot be decrypted with this "
                    "AIRFOIL_SECRETS_KEY (it was stored with another key: set it again, or "
                    "use the key it was stored with)"
                ) from None
        return out

    def delete(self, project: str, name: str) -> None:
        """Delete secret ``name`` of ``project``.

        Raises:
            ConfigError: the project or the name is invalid.
            NotFoundError: the project has no such secret.
        """
        _check(project_name_problem(project))
        _check(secret_name_problem(name))
        if not self._drop(project, name):
            raise NotFoundError(f"no secret {name!r} in project {project!r}")

    def names(self, project: str) -> list[str]:
        """The names of ``project``'s secrets, sorted (never their values).

        Raises:
            ConfigError: the project name is invalid.
        """
        _check(project_name_problem(project))
        return sorted(self._names(project))

    def at_rest(self, project: str, name: str) -> str | None:
        """The token secret ``name`` of ``project`` is kept as (ciphertext), or None: what
        someone reading the storage sees."""
        return self._read(project, (name,)).get(name)

    def close(self) -> None:  # noqa: B027 - most backends hold nothing to close
        """Release what the store holds (nothing by default)."""

    # --- what a backend keeps -----------------------------------------------------------

    @abc.abstractmethod
    def _write(self, project: str, name: str, token: str) -> None:
        """Keep ``token`` for ``(project, name)``, replacing any token it had."""

    @abc.abstractmethod
    def _read(self, project: str, names: tuple[str, ...]) -> dict[str, str]:
        """The tokens of those of ``names`` that ``project`` has."""

    @abc.abstractmethod
    def _drop(self, project: str, name: str) -> bool:
        """Forget ``(project, name)``; whether it was there."""

    @abc.abstractmethod
    def _names(self, project: str) -> list[str]:
        """The names ``project`` has tokens for."""
