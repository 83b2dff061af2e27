"""The API models of deployments: model services the server supervises (``airfoil deploy``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DeploymentDrift",
    "DeploymentIn",
    "DeploymentKey",
    "DeploymentList",
    "DeploymentOut",
    "ReplicaOut",
    "ReplicaResources",
]


class DeploymentIn(BaseModel):
    """Deploy a model: ``NAME@ALIAS`` (follows the alias), ``NAME:VERSION`` or ``NAME``."""

    model_config = ConfigDict(extra="forbid")

    ref: str = Field(min_length=1, max_length=300)
    replicas: int = Field(default=1, ge=1, le=32)
    file: str = Field(
        default="",
        max_length=4096,
        description="The file that defines the model, on the server's machine (default: the "
        "one recorded when the model was registered).",
    )
    on: Literal["process", "ray"] | None = Field(
        default=None,
        description="Where the replicas run: 'process' (airfoil serve processes the server "
        "supervises) or 'ray' (a Ray Serve application on the server's Ray cluster). Default: "
        "'ray' on a server started with --executor ray, else 'process'.",
    )
    cpus: float | None = Field(
        default=None,
        gt=0,
        le=1024,
        description="CPUs each replica reserves (default 1 when gpus or memory is given; "
        "nothing reserved when none of the three is).",
    )
    gpus: int | None = Field(default=None, ge=0, le=64, description="GPUs each replica gets.")
    memory: str | None = Field(
        default=None,
        max_length=32,
        description="Memory each replica reserves: bytes or a quantity like '512Mi', '2Gi'.",
    )
    predict_timeout: float | None = Field(
        default=None,
        gt=0,
        le=86400,
        description="Seconds each replica's /predict waits for the predictor before it is a "
        "504 (a prediction running longer makes the replica's /health a 503 'stuck', and the "
        "server restarts it). Default: 60, or the deployment's when it is deployed again.",
    )


class ReplicaResources(BaseModel):
    """What each replica of a deployment reserves."""

    cpu: float
    mem: int = Field(description="Bytes (0: not asked).")
    gpu: int


class ReplicaOut(BaseModel):
    """One replica of a deployment: an ``airfoil serve`` process, or a Ray Serve replica
    (then ``port`` and ``url`` are the Serve proxy's, shared by the replicas)."""

    index: int
    port: int
    pid: int | None = None
    status: str
    version: int | None = None
    restarts: int = 0
    last_exit: int | None = None
    exit_reason: str = Field(
        default="",
        description="Why the supervisor ended its last run (e.g. out of memory), or empty.",
    )
    cpus: list[int] = Field(
        default_factory=list,
        description="The CPUs it is pinned to (its whole requested CPUs), or empty.",
    )
    url: str


class DeploymentOut(BaseModel):
    """A deployment: the model it serves and its replicas."""

    project: str
    name: str
    ref: str
    replicas: int
    status: str
    file: str = ""
    on: str = "process"
    message: str = Field(default="", description="Why it is not serving, if known.")
    resources: ReplicaResources | None = Field(
        default=None, description="What each replica reserves (none: nothing asked)."
    )
    predict_timeout: float = Field(
        default=60.0, description="Seconds each replica's /predict waits for the predictor."
    )
    created_at: float
    updated_at: float
    members: list[ReplicaOut] = []


class DeploymentList(BaseModel):
    """The deployments of a project, by name."""

    items: list[DeploymentOut]


class DeploymentDrift(BaseModel):
    """Drift of a deployment: per feature, training mean/std/missing rate beside the same
    over the rows its replicas served of the version it serves (pooled, as its record keeps
    them: up to about a second old), and the mean's shift in training standard deviations."""

    name: str
    version: int | None
    rows: int
    replicas: int
    features: dict[str, Any]


class DeploymentKey(BaseModel):
    """What calls a deployment's replicas: the key its replicas take (derived for it from
    the server's model key; sent as ``Authorization: Bearer <key>``) and their URLs. ``key``
    is null when the server's replicas take none (no API keys and no ``AIRFOIL_MODEL_KEY``:
    loopback clients call them without one)."""

    project: str
    name: str
    key: str | None = Field(
        description="The deployment's own key (it calls this deployment's replicas only), "
        "or null: none needed.",
        repr=False,  # never in a repr or str: a log line or a REPL shows the rest
    )
    urls: list[str] = Field(description="Each replica's URL (of the server's machine).")
