"""The key a server's model replicas take: ``AIRFOIL_MODEL_KEY`` when it is set, else, once
the server has API keys, one the server made and keeps in its home folder.

A server that requires keys starts replicas that require keys: without ``AIRFOIL_MODEL_KEY``
it makes a random key the first time a replica starts (or a caller asks for a deployment's
key) while it has API keys, writes it to ``HOME/model.key`` (created ``0600``, exclusively:
servers sharing a home agree on one), and reads it back on every later start, so replicas
that outlive a restart keep answering the same key. It is never printed or logged, never in
a ``repr``, and never in a worker's or a replica's environment (a replica gets its
deployment's key derived from it: :func:`~airfoil.core.worker_env.deployment_key`). A kept
file open to other users, or holding a key under 32 characters (cut short, edited), is
refused with a ConfigError naming the fix, never used. A server
with no API keys (loopback only, every loopback client an admin) keeps its replicas keyless,
under the ``Host`` rule, as ``airfoil serve`` is by default; whether it has keys is asked
again at each replica start, so the first key created on a running server keys the replicas
started after it. Callers get a deployment's key through the API
(``GET /projects/P/deployments/NAME/key``, runner) or ``airfoil deploy key NAME``.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable

from airfoil.core.errors import ConfigError
from airfoil.core.worker_env import MODEL_KEY

__all__ = ["KEY_FILE", "ModelKey", "ModelKeyError"]

#: The file in the server's home that keeps the key it made.
KEY_FILE = "model.key"
#: The fewest characters a kept key may have (a made one has 43: 32 random bytes).
MIN_KEY_CHARS = 32


class ModelKeyError(ConfigError):
    """The kept key cannot be used. The message names the file and the fix, for the server's
    operator (the server's log); :attr:`public` says the same without the server's
    file-system path, for API callers (a runner asking for a deployment's key).
    """

    def __init__(self, message: str, public: str) -> None:
        super().__init__(message)
        self.public = public


def _refused(path: str, problem: str, fix: str) -> ModelKeyError:
    """The error of a kept key at ``path`` that cannot be used: ``problem`` and ``fix`` name
    no path (``{file}`` in ``fix``: the file); the operator's message names it."""
    return ModelKeyError(
        f"{path} {problem}: {fix.format(file=path)}",
        f"the server's model key ({KEY_FILE} in its home folder) {problem}: the server's "
        f"operator must fix it ({fix.format(file=KEY_FILE)}; the server's log names the file)",
    )


class ModelKey:
    """The server's model key, decided when asked (:meth:`current`).

    Args:
        home: the server's home folder (where a made key is kept).
        keyed: whether the server has API keys now.
        explicit: ``AIRFOIL_MODEL_KEY`` of the server's environment (None: read it there).
    """

    def __init__(self, home: str, keyed: Callable[[], bool], explicit: str | None = None) -> None:
        self.path = os.path.join(home, KEY_FILE)
        self._keyed = keyed
        given = os.environ.get(MODEL_KEY, "") if explicit is None else explicit
        self._explicit = given.strip() or None
        self._kept: str | None = None
        self._open_at = -float("inf")  # when the server last had no API keys
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        source = MODEL_KEY if self._explicit else self.path
        return f"ModelKey({source}: ***)"

    @property
    def explicit(self) -> bool:
        """Whether the key is the environment's (``AIRFOIL_MODEL_KEY``)."""
        return self._explicit is not None

    def current(self, max_age: float = 0.0) -> str | None:
        """The key replicas started now take and callers send; None: replicas take none
        (no ``AIRFOIL_MODEL_KEY`` and no API keys). ``max_age``: seconds an earlier "no API
        keys" may be answered again without asking (the supervisor's frequent reads: a
        question a second would keep the key check's refresh reading the keys for ever).

        Raises:
            ConfigError: the kept key cannot be read or written (the replica is then not
                started keyless: the error names the file).
        """
        if self._explicit is not None:
            return self._explicit
        if self._kept is not None:  # a server with keys stays closed (docs/server.md)
            return self._kept
        if max_age > 0 and time.monotonic() - self._open_at < max_age:
            return None
        try:
            keyed = self._keyed()
        except Exception:  # not known now (the database away): keyed, never open by mistake
            keyed = True
        if not keyed:
            self._open_at = time.monotonic()
            return None
        with self._lock:
            if self._kept is None:
                self._kept = self._read_or_make()
            return self._kept

    def _read_or_make(self) -> str:
        """The kept key, made first if there is none: written whole to a file of its own
        (``0600``) and linked into place, so a server sharing the home never reads half a
        key, and the first link wins."""
        try:
            if not os.path.exists(self.path):
                os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
                tmp = f"{self.path}.{secrets.token_hex(6)}"
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                try:
                    with os.fdopen(fd, "w") as f:
                        f.write(secrets.token_urlsafe(32) + "\n")
                        f.flush()
                        os.fsync(f.fileno())
                    os.link(tmp, self.path)
                except FileExistsError:
                    pass  # another server kept one first: that one
                finally:
                    os.unlink(tmp)
            with open(self.path) as f:
                key = f.read().strip()
                mode = os.fstat(f.fileno()).st_mode & 0o777
        except OSError as exc:
            raise _refused(
                self.path,
                f"cannot be kept ({exc.strerror})",
                f"make the home folder writable by the server, or set {MODEL_KEY}",
            ) from None
        if not key:
            raise _refused(
                self.path,
                "holds no model key",
                f"remove the empty file (a new key is made) or set {MODEL_KEY}",
            )
        if mode & 0o077:  # every deployment's key is derived from it
            raise _refused(
                self.path,
                f"is open to other users (mode {mode:o})",
                "`chmod 600 {file}` (and replace the key if another user may have read it: "
                f"remove the file, a new key is made), or set {MODEL_KEY} (a home on a file "
                "system without Unix permissions)",
            )
        if len(key) < MIN_KEY_CHARS:
            raise _refused(
                self.path,
                f"holds a key of {len(key)} characters, under {MIN_KEY_CHARS}",
                f"remove the file (a new key is made) or set {MODEL_KEY}",
            )
        return key
