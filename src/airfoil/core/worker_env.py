"""What a worker process may inherit of its parent's environment.

A worker runs user code: on a server, a tenant's. The variables that carry the platform's own
credentials are therefore removed from every worker's environment, on the process executor
(locally and on a server): the key that decrypts every project's stored secrets, the database
URL (its password), the API key of whoever started the process, the local runs' secrets
(``AIRFOIL_SECRET_<NAME>``: a task receives the secrets it asks for through
``current_context().secrets``, never from the environment) and libpq's password variables.
Everything else passes (a blob store's credentials included: workers write the outputs).

This is the one list: :mod:`airfoil.settings` names it for its settings, the process
executor's forkserver and spawned workers apply it (:mod:`airfoil.executors._process_env`),
and docs/server.md ("Trust model") shows it. Names match in any case, as the settings' do.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping

__all__ = [
    "DENIED_PREFIXES",
    "DENIED_VARIABLES",
    "MODEL_KEY",
    "MODEL_KEY_SCOPE",
    "deployment_key",
    "key_scope",
    "denied_names",
    "is_denied",
    "worker_environ",
]

#: The key a model service's callers send (``airfoil.ml._service_guard``). A server's replicas
#: get their deployment's own (:func:`deployment_key`), never the server's, and no other
#: process gets either.
MODEL_KEY = "AIRFOIL_MODEL_KEY"
#: The deployment a replica's key was derived for (:func:`key_scope`).
MODEL_KEY_SCOPE = "AIRFOIL_MODEL_KEY_SCOPE"


def key_scope(project: str, name: str) -> str:
    """What a deployment's key is derived for: its project and name, unambiguously."""
    return json.dumps([project, name])


def deployment_key(key: str, scope: str) -> str:
    """The key of one deployment (``scope``: :func:`key_scope`) derived from a server's model
    key: a replica holds this, and checks a caller's key ``k`` by ``deployment_key(k, scope)``,
    so a caller sends the server's key (or this one), and the code of a model served in one
    deployment, which can read its replica's key, cannot call another deployment."""
    mac = hmac.new(key.encode(), scope.encode(), hashlib.sha256).hexdigest()
    return f"afm_{mac}"


#: Variables never passed to a worker (upper case; matched in any case).
DENIED_VARIABLES = frozenset(
    {
        "AIRFOIL_SECRETS_KEY",  # decrypts every project's stored secrets
        "AIRFOIL_DATABASE_URL",  # the metadata database, with its password
        "AIRFOIL_API_KEY",  # the key of whoever started the server or the run
        MODEL_KEY,  # what calls the server's model replicas
        MODEL_KEY_SCOPE,
        "PGPASSWORD",  # libpq's password (the server's database)
        "PGPASSFILE",
    }
)
#: Prefixes of variables never passed to a worker (upper case; matched in any case).
DENIED_PREFIXES = ("AIRFOIL_SECRET_",)  # local runs' secrets: they reach a task by request


def is_denied(name: str) -> bool:
    """Whether the environment variable ``name`` is kept from workers."""
    upper = name.upper()
    return upper in DENIED_VARIABLES or upper.startswith(DENIED_PREFIXES)


def denied_names(names: Iterable[str]) -> list[str]:
    """The names of ``names`` kept from workers, in their order."""
    return [n for n in names if is_denied(n)]


def worker_environ(environ: Mapping[str, str], *, keep: Iterable[str] = ()) -> dict[str, str]:
    """``environ`` without the variables kept from workers, but for those named in ``keep``
    (a process that needs one of them, as a model service needs the database)."""
    kept = {k.upper() for k in keep}
    return {k: v for k, v in environ.items() if not is_denied(k) or k.upper() in kept}
