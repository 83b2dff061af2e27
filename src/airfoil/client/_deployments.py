"""The deployments of a server (``airfoil deploy``), through a :class:`~airfoil.client.Client`:
``Deployments(client).deploy(ref, replicas)``, ``.list()``, ``.get(name)``, ``.stop(name)``,
``.drift(name)``, ``.key(name)``."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from airfoil.client._client import Client
from airfoil.core.errors import ConfigError
from airfoil.wire._deployments import (
    DeploymentDrift,
    DeploymentIn,
    DeploymentKey,
    DeploymentList,
    DeploymentOut,
)

__all__ = ["Deployments"]


class Deployments:
    """The deployments of the client's project (or ``project``) on the server."""

    def __init__(self, client: Client, project: str | None = None) -> None:
        self.client = client
        self.project = project or client.project

    def _base(self) -> str:
        return f"/projects/{self.project}/deployments"

    def _one(self, name: str) -> str:
        """The path of deployment ``name``: one segment, quoted (an HTTP client resolves
        ``..`` and ``/``: the path would name another project's deployment).

        Raises:
            ConfigError: ``name`` holds a ``/`` or is ``.`` or ``..`` (no deployment's name).
        """
        if "/" in name or name in (".", ".."):
            raise ConfigError(
                f"invalid deployment name {name!r}: a deployment is named after its model "
                "(letters, digits, '_', '.' and '-'; no '/', not '.' or '..')"
            )
        return f"{self._base()}/{quote(name, safe='')}"

    def deploy(
        self,
        ref: str,
        replicas: int = 1,
        file: str = "",
        on: Literal["process", "ray"] | None = None,
        *,
        cpus: float | None = None,
        gpus: int | None = None,
        memory: str | None = None,
        predict_timeout: float | None = None,
    ) -> DeploymentOut:
        """Make the server run ``replicas`` services of ``ref`` (``NAME@ALIAS`` follows the
        alias), as processes it supervises or, ``on="ray"``, as a Ray Serve application
        (default: the server's choice, Ray on a server whose executor is Ray). ``cpus``,
        ``gpus`` and ``memory`` (``"2Gi"``) are what each replica reserves: processes are
        admitted through the server's resource queue, Ray replicas ask Ray for them.
        ``predict_timeout``: the seconds each replica's ``/predict`` waits for the predictor
        (default 60, or the deployment's when it is deployed again)."""
        body = DeploymentIn(
            ref=ref,
            replicas=replicas,
            file=file,
            on=on,
            cpus=cpus,
            gpus=gpus,
            memory=memory,
            predict_timeout=predict_timeout,
        )
        payload = body.model_dump(mode="json", exclude_none=True)
        r = self.client._call("POST", self._base(), json=payload)
        return DeploymentOut.model_validate(r.json())

    def list(self) -> DeploymentList:
        return DeploymentList.model_validate(self.client._call("GET", self._base()).json())

    def get(self, name: str) -> DeploymentOut:
        r = self.client._call("GET", self._one(name))
        return DeploymentOut.model_validate(r.json())

    def stop(self, name: str) -> DeploymentOut:
        r = self.client._call("DELETE", self._one(name))
        return DeploymentOut.model_validate(r.json())

    def drift(self, name: str) -> DeploymentDrift:
        r = self.client._call("GET", self._one(name) + "/drift")
        return DeploymentDrift.model_validate(r.json())

    def key(self, name: str) -> DeploymentKey:
        """The key that calls ``name``'s replicas (``Authorization: Bearer <key>``; derived
        for this deployment: it calls no other) and their URLs; ``key`` is None where the
        server's replicas take none. Needs the runner role in the project."""
        r = self.client._call("GET", self._one(name) + "/key")
        return DeploymentKey.model_validate(r.json())
