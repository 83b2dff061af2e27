"""The Python client of the Airfoil server.

Example::

    from airfoil.client import Client

    with Client("http://127.0.0.1:8080", api_key="af_...") as c:
        c.register([train_wf])
        ex = c.launch(train_wf, {"epochs": 3})
        c.wait(ex.id)
        model = c.outputs(ex.id, train_wf)
"""

from airfoil.client._artifacts import Artifacts
from airfoil.client._client import ApiCallError, AuthError, Client
from airfoil.client._deployments import Deployments
from airfoil.client._http import CacheScopeForbidden
from airfoil.client._package import build_package

__all__ = [
    "ApiCallError",
    "Artifacts",
    "AuthError",
    "CacheScopeForbidden",
    "Client",
    "Deployments",
    "build_package",
]
