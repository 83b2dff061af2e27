"""What a model service process the server starts gets: its environment (the server's less
its credentials, plus the registry's and its deployment's key), and what the supervisor
sends it."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import httpx

from airfoil.core.worker_env import MODEL_KEY, MODEL_KEY_SCOPE, deployment_key, key_scope

__all__ = ["KEY_RECHECK_S", "ServiceEnv", "probe_key"]

#: How often the supervisor's frequent reads ask again whether a server without API keys has
#: one now (a replica's start always asks).
KEY_RECHECK_S = 15.0


def probe_key(
    http: httpx.Client, url: str, key: str
) -> Literal["keyless", "refused", "taken"] | None:
    """Whether the model service whose ``/metadata`` is at ``url`` takes the server's
    ``key``, by a keyless and a keyed read (a service keyed by it answers 401, then 200):
    ``"keyless"`` (it answers without a key), ``"refused"`` (401 to the key), ``"taken"``
    (200 to it), None (another answer: ask again later).

    Raises:
        httpx.HTTPError: the service cannot be asked (not serving yet, or away).
    """
    if http.get(url).status_code == 200:
        return "keyless"
    keyed = http.get(url, headers={"Authorization": f"Bearer {key}"}).status_code
    return "refused" if keyed == 401 else "taken" if keyed == 200 else None


#: The denied variables a model service keeps: what it needs to open the registry.
_SERVICE_KEEPS = ("PGPASSWORD", "PGPASSFILE")


@dataclass(frozen=True)
class ServiceEnv:
    """What a service process needs to find the server's registry, and the key its
    callers send (``AIRFOIL_MODEL_KEY`` of the server's environment; None: none, the
    replicas answer requests addressed to localhost or an address only: see
    :mod:`airfoil.ml._service_guard`). A replica gets its deployment's key, derived from
    this one (:func:`~airfoil.core.worker_env.deployment_key`), and takes this one or that.
    ``key_source``, when given, is asked instead at each replica start and request (the
    server's :class:`~airfoil.server._model_key.ModelKey`: the key it keeps once it has API
    keys). The key is never in a ``repr``."""

    home: str
    database_url: str | None
    blob_url: str
    logs_dir: str
    model_key: str | None = field(default=None, repr=False)
    key_source: Callable[[float], str | None] | None = field(
        default=None, repr=False, compare=False
    )

    def key(self, max_age: float = 0.0) -> str | None:
        """The key replicas started now take (None: none); ``max_age``: how old an answer
        of the key source may be (see :meth:`~airfoil.server._model_key.ModelKey.current`)."""
        return self.key_source(max_age) if self.key_source is not None else self.model_key

    def environ(self, project: str, name: str) -> dict[str, str]:
        """A replica's environment: the server's, less what no process running a tenant's
        code gets (:mod:`airfoil.core.worker_env`: the secrets key, API keys, local
        secrets), plus the server's registry. The database's credentials are kept (its URL,
        libpq's password variables): a service reads its model's versions and aliases from
        the registry itself (docs/server.md, "Trust model")."""
        from airfoil.core.worker_env import worker_environ

        env = worker_environ(os.environ, keep=_SERVICE_KEEPS)
        env.update(AIRFOIL_HOME=self.home, AIRFOIL_BLOB_URL=self.blob_url)
        env["AIRFOIL_PROJECT"] = project
        if self.database_url:
            env["AIRFOIL_DATABASE_URL"] = self.database_url
        else:
            env.pop("AIRFOIL_DATABASE_URL", None)
        env.pop(MODEL_KEY, None)
        env.pop(MODEL_KEY_SCOPE, None)
        key = self.key()
        if key:  # its deployment's own: the service takes it out at once
            scope = key_scope(project, name)
            env[MODEL_KEY], env[MODEL_KEY_SCOPE] = deployment_key(key, scope), scope
        return env

    def headers(self) -> dict[str, str]:
        """What the supervisor's own requests to a replica (``/drift``) send."""
        key = self.key(KEY_RECHECK_S)
        return {"Authorization": f"Bearer {key}"} if key else {}
