"""Training on an Airfoil server: ``model.train(..., remote=Client(...))``.

The training (or tuning) workflow is registered with the server like any remote run of a
workflow (the source folder of the model's file packaged and uploaded), launched, waited
for, and its result registered in the *server's* registry, with the server's execution in
the version's lineage. The server's workers find the model's tasks by importing the model's
file from the package and reading ``<model variable>.ml_tasks.<kind>``.

The client is passed in (``airfoil.ml`` and ``airfoil.client`` are sibling layers that do not
import each other): any object with :class:`ServerClient`'s methods, such as
:class:`airfoil.client.Client`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from airfoil.core.errors import AirfoilError, ConfigError, ExecutionFailedError
from airfoil.store.artifacts import ArtifactVersion

if TYPE_CHECKING:
    from airfoil.ml._model import Model

__all__ = [
    "RemoteTrainingTimeoutError",
    "ServerClient",
    "ServerRegistry",
    "run_on_server",
    "source_dir",
]


class RemoteTrainingTimeoutError(AirfoilError, TimeoutError):
    """Training on a server did not end within the ``timeout`` given. The execution keeps
    running there; ``model.train(..., remote=client, attach=execution_id)`` (or ``tune``)
    waits for it again and registers its result.

    Attributes:
        execution_id: the server's execution.
        timeout: the seconds waited.
        server: the server's URL.
    """

    def __init__(self, execution_id: str, timeout: float, server: str) -> None:
        self.execution_id = execution_id
        self.timeout = timeout
        self.server = server
        super().__init__(
            f"execution {execution_id} on {server} did not end within {timeout:g} s; it keeps "
            f"running there: wait for it again with the same call and "
            f"attach={execution_id!r} (e.g. model.train(..., remote=client, "
            f"attach={execution_id!r}, timeout=...)), or watch it with "
            f"`airfoil executions show {execution_id} --remote`"
        )


class ServerClient(Protocol):
    """What remote training needs of a client (:class:`airfoil.client.Client` has it)."""

    project: str
    url: str

    def register(
        self,
        entities: Sequence[Any],
        *,
        source_dir: str | None = None,
        project: str | None = None,
    ) -> Any: ...

    def launch(self, entity: Any, inputs: dict[str, Any] | None = None) -> Any: ...

    def wait(self, execution_id: str, *, timeout: float | None = None) -> Any: ...

    def get(self, execution_id: str) -> Any: ...

    def outputs(self, execution_id: str, entity: Any) -> Any: ...

    def artifacts(self) -> Any: ...


class ServerRegistry:
    """The server's model registry, through a client: what training registers into when it
    ran on the server. Registering uploads the bytes and adds the version on the server (the
    same bytes again are the same version)."""

    def __init__(self, client: ServerClient) -> None:
        self.client = client

    def register(
        self,
        model_name: str,
        data: bytes,
        *,
        fmt: str,
        execution_id: str,
        lineage: dict[str, str],
        metrics: dict[str, float],
        metadata: dict[str, str],
    ) -> ArtifactVersion:
        published = self.client.artifacts().publish(
            model_name,
            data,
            kind="model",
            execution_id=execution_id,
            lineage=lineage,
            metrics=metrics,
            metadata={**metadata, "format": fmt},
        )
        v = published.version
        return ArtifactVersion(
            project=self.client.project,
            name=v.name,
            version=v.version,
            kind=v.kind,
            uri=v.uri,
            content_hash=v.content_hash,
            created_at=v.created_at,
            partitions=dict(v.partitions),
            execution_id=v.execution_id,
            lineage=dict(v.lineage),
            metrics=dict(v.metrics),
            metadata=dict(v.metadata),
        )


def source_dir(model: Model) -> str:
    """The folder to package for the model's file: the folder holding its top-level package
    (or the script's own folder).

    Raises:
        ConfigError: the model is not a module-level variable of an importable file.
    """
    if model.address() is None or not model.source_file or not os.path.isfile(model.source_file):
        raise ConfigError(
            f"model {model.name!r} cannot train on a server: it must be a module-level "
            "variable of a Python file (the server's workers import that file and find the "
            "model by its variable name)"
        )
    path = os.path.dirname(os.path.realpath(model.source_file))
    depth = 0 if model.module_name == "__main__" else model.module_name.count(".")
    if os.path.basename(model.source_file).startswith("__init__."):
        depth += 1
    for _ in range(depth):
        path = os.path.dirname(path)
    return path


def run_on_server(
    model: Model,
    client: ServerClient,
    wf: Any,
    inputs: dict[str, Any],
    *,
    timeout: float | None = None,
    attach: str | None = None,
) -> Any:
    """Register ``wf`` with the model's source folder, run it on the server, wait, and return
    its outputs.

    Args:
        timeout: the most seconds to wait for the execution (None: until it ends).
        attach: wait for this execution of ``wf`` (one a timeout left running) instead of
            launching a new one.

    Raises:
        ConfigError: the model cannot be found by the server's workers; ``attach`` names an
            execution of another workflow; a timeout that is not positive.
        RemoteTrainingTimeoutError: it did not end within ``timeout`` (it keeps running).
        ExecutionFailedError: the execution did not succeed (the server's error inside).
    """
    if timeout is not None and not timeout > 0:
        raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if attach is None:
        client.register([wf], source_dir=source_dir(model))
        execution_id = client.launch(wf, inputs).id
    else:
        execution_id = attach
        found = client.get(attach)  # NotFoundError if the server has no such execution
        if found.workflow != wf.name:
            raise ConfigError(
                f"execution {attach} runs workflow {found.workflow!r}, not {wf.name!r}: attach "
                f"to an execution that this call started (its RemoteTrainingTimeoutError "
                "names it)"
            )
    try:
        detail = client.wait(execution_id, timeout=timeout)
    except TimeoutError as exc:
        raise RemoteTrainingTimeoutError(execution_id, timeout or 0.0, client.url) from exc
    if detail.phase != "succeeded":
        err = detail.error
        raise ExecutionFailedError(
            detail.id,
            f"{err.type}: {err.message}" if err else f"execution {detail.id} {detail.phase}",
            error_kind=err.kind if err else "system",
            error_type=err.type if err else "",
            traceback=err.traceback if err else "",
        )
    return client.outputs(detail.id, wf)
