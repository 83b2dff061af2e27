"""The artifact registry of a server, through a :class:`~airfoil.client.Client`:
``Artifacts(client).list()``, ``.detail(name)``, ``.version(name, n)``, ``.promote(...)``,
``.rollback(...)``, ``.publish(name, data, ...)``."""

from __future__ import annotations

import hashlib

from airfoil.client._client import Client
from airfoil.wire._artifacts import (
    AliasMoveIn,
    AliasMoveOut,
    ArtifactDetail,
    ArtifactList,
    ArtifactPublished,
    ArtifactVersionIn,
    ArtifactVersionOut,
)

__all__ = ["Artifacts"]


class Artifacts:
    """The artifacts of the client's project (or ``project``) on the server."""

    def __init__(self, client: Client, project: str | None = None) -> None:
        self.client = client
        self.project = project or client.project

    def _base(self) -> str:
        return f"/projects/{self.project}/artifacts"

    def list(self, kind: str | None = None) -> ArtifactList:
        params = {"kind": kind} if kind else {}
        r = self.client._call("GET", self._base(), params=params)
        return ArtifactList.model_validate(r.json())

    def detail(self, name: str) -> ArtifactDetail:
        r = self.client._call("GET", f"{self._base()}/{name}")
        return ArtifactDetail.model_validate(r.json())

    def version(self, name: str, version: int) -> ArtifactVersionOut:
        r = self.client._call("GET", f"{self._base()}/{name}/versions/{version}")
        return ArtifactVersionOut.model_validate(r.json())

    def move(self, name: str, body: AliasMoveIn) -> AliasMoveOut:
        r = self.client._call(
            "POST", f"{self._base()}/{name}/aliases", json=body.model_dump(mode="json")
        )
        return AliasMoveOut.model_validate(r.json())

    def promote(self, name: str, version: int, alias: str, reason: str = "") -> AliasMoveOut:
        return self.move(name, AliasMoveIn(alias=alias, version=version, reason=reason))

    def rollback(self, name: str, alias: str, reason: str = "") -> AliasMoveOut:
        return self.move(name, AliasMoveIn(alias=alias, action="rollback", reason=reason))

    def publish(
        self,
        name: str,
        data: bytes,
        *,
        kind: str = "data",
        partitions: dict[str, str] | None = None,
        execution_id: str = "",
        lineage: dict[str, str] | None = None,
        metrics: dict[str, float] | None = None,
        metadata: dict[str, str] | None = None,
        execution_domain: str = "",
    ) -> ArtifactPublished:
        """Upload ``data`` and add it as a version of ``name`` on the server (the same bytes
        again are the same version: ``created`` is then false). ``execution_id``: the run it
        came from, by id or name (``execution_domain``: of a name used in several domains).

        Raises:
            NotFoundError: ``execution_id`` is not an execution of the project.
            InvalidInputError: that execution did not succeed, or the bytes are too large.
        """
        sha = hashlib.sha256(data).hexdigest()
        self.client._call(
            "PUT",
            f"/projects/{self.project}/uploads/{sha}",
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        body = ArtifactVersionIn(
            sha256=sha,
            kind=kind,
            partitions=dict(partitions or {}),
            execution_id=execution_id,
            execution_domain=execution_domain,
            lineage=dict(lineage or {}),
            metrics=dict(metrics or {}),
            metadata=dict(metadata or {}),
        )
        r = self.client._call(
            "POST", f"{self._base()}/{name}/versions", json=body.model_dump(mode="json")
        )
        return ArtifactPublished.model_validate(r.json())
