"""One typed settings object, read from ``AIRFOIL_*`` environment variables by entry points
(the CLI, a workflow called as a function, the server) and passed down. Nothing reads the
environment at import time.

The object is a pydantic model that reads its fields' ``AIRFOIL_<NAME>`` variables (any
case) when built, below the keyword arguments given, as pydantic-settings' ``BaseSettings``
with ``env_prefix="AIRFOIL_"`` does for scalar fields (every field here is one). It is not a
``BaseSettings``: importing pydantic-settings (its asyncio, dotenv and every cloud secrets
provider) cost every ``airfoil run`` about 15% of its whole process (docs/dev/performance-log.md).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from airfoil.core.projects import domain_problem, project_name_problem

__all__ = ["AirfoilSettings", "masked_url"]

ENV_PREFIX = "AIRFOIL_"
#: ``scheme://user:password@rest``: the password runs to the last ``@`` (unescaped ``@`` or
#: ``/`` in it are hidden too; a URL with an ``@`` later in its path hides more, never less).
_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][\w+.-]*://[^:/@]*):(?P<password>.*)@(?P<rest>[^@]*)$")


#: Query parameters that carry a credential: libpq's ``?password=``, a SAS token's ``sig``...
_SECRET_PARAM = re.compile(
    r"(?P<name>[?&;](?:password|passwd|pwd|secret|token|sig|access_token|api_key)=)[^&;#]*",
    re.IGNORECASE,
)


def masked_url(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part, and the values of query
    parameters that carry a credential (``password``, ``token``, ``sig``...), shown as
    ``***``, for reprs and messages; any other text is returned as it is."""
    match = _PASSWORD.match(url)
    if match is not None:
        url = f"{match['head']}:***@{match['rest']}"
    if "://" in url and "=" in url:
        url = _SECRET_PARAM.sub(r"\g<name>***", url)
    return url


def environment_values(fields: Any, environ: Any = None) -> dict[str, str]:
    """The ``AIRFOIL_<FIELD>`` variables of ``environ`` (default ``os.environ``) set for
    ``fields``, by field name; the variable's name is matched in any case."""
    env = os.environ if environ is None else environ
    wanted = {ENV_PREFIX.lower() + name.lower(): name for name in fields}
    return {wanted[k.lower()]: v for k, v in env.items() if k.lower() in wanted}


class AirfoilSettings(BaseModel):
    """Where Airfoil keeps its state and how it runs tasks.

    Attributes:
        home: the embedded default's folder (``$AIRFOIL_HOME``, default ``~/.airfoil``):
            ``airfoil.db`` (SQLite) and ``blobs/``.
        database_url: a SQLAlchemy URL (``postgresql+psycopg://...``); default SQLite in home.
        blob_url: a local folder or fsspec URL for blobs; default ``home/blobs``.
        executor: the executor that runs attempts: ``inline`` (same process), ``process``
            (worker processes), ``ray`` (a Ray cluster; ``pip install 'airfoil[ray]'``) or any
            name registered with the runtime's executor registry (checked when the runtime is
            built).
        ray_address: the Ray cluster the ``ray`` executor joins (``AIRFOIL_RAY_ADDRESS``:
            ``host:port`` of a head, ``ray://host:10001`` or ``auto``); default: a local Ray
            started for the run and stopped after it.
        blob_cache_dir: the folder, on each node of a Ray cluster, where workers keep the
            blobs they fetched (``AIRFOIL_BLOB_CACHE_DIR``, an absolute path; default
            ``<temp dir>/airfoil-blob-cache-<uid>``).
        blob_cache_bytes: the most each node's blob cache holds (``AIRFOIL_BLOB_CACHE_BYTES``:
            bytes or a quantity like ``20Gi``; default 10Gi; 0 turns the cache off).
        blob_cache_local: cache a local-folder blob store too (``AIRFOIL_BLOB_CACHE_LOCAL``:
            a network mount every node shares); by default only stores without a local path
            (``s3://``, ``gs://``...) are cached.
        max_parallel: attempts at once for the process and ray executors (default: CPU count,
            the cluster's CPUs on Ray).
        worker_nice: how much lower the CPU priority of the process executor's workers is
            than the process driving them (``AIRFOIL_WORKER_NICE``: a ``nice`` increment from
            0, the default, to 19; ``airfoil server start --worker-nice``).
        project / domain: where executions are recorded.
        scheduler_policy: the policy that admits attempts asking for CPUs, memory or GPUs
            (``airfoil``, ``fair``, ``las``, ``backfill``, ``fifo-skip``, ``fifo``).
        gpus: pretend this machine has this many GPUs (``AIRFOIL_GPUS``; default: the GPUs
            ``nvidia-smi`` lists, or ``CUDA_VISIBLE_DEVICES``).
        durability: what a committed run survives (``AIRFOIL_DURABILITY``): ``process``
            (default: a crash of the process; SQLite ``synchronous=NORMAL``, blobs renamed
            into place) or ``power`` (also a power loss: SQLite ``synchronous=FULL``, each
            blob and its directory fsynced before the commit that references it).
        converters: type converters to add to the type engine, as comma-separated import
            paths (``AIRFOIL_CONVERTERS=pkg.codecs:MoneyConverter``); see
            :func:`airfoil.types.add_converter`.
        otel_endpoint: an OTLP/HTTP collector to export OpenTelemetry traces of runs to
            (``AIRFOIL_OTEL_ENDPOINT``; default ``OTEL_EXPORTER_OTLP_ENDPOINT``, else none:
            no traces, nothing of OpenTelemetry imported). Needs ``airfoil[otel]``.
        otel_map_first, otel_map_every, otel_map_failures: which items of a map get spans
            (``AIRFOIL_OTEL_MAP_FIRST``, default 10: the first items; ``AIRFOIL_OTEL_MAP_EVERY``,
            default 100: every such item, 0 none; ``AIRFOIL_OTEL_MAP_FAILURES``, default
            100: at most this many failed items per map); the others get no span.
        anomaly_k: an attempt whose duration (or a metric's final value) is more than this
            many standard deviations from its task version's history is flagged
            (``AIRFOIL_ANOMALY_K``, default 3).
        anomaly_min_history: the fewest earlier successful runs a flag needs
            (``AIRFOIL_ANOMALY_MIN_HISTORY``, default 10).
        admission: who admits attempts that ask for resources (``AIRFOIL_ADMISSION``):
            ``process`` (each process decides over its own attempts), ``database`` (one
            admission authority per cluster, held by one of the processes sharing this
            database, decides for all of them: server replicas) or ``auto`` (default:
            ``database`` for a server on PostgreSQL, else ``process``).
        admission_cluster: the cluster's key in the admission tables
            (``AIRFOIL_ADMISSION_CLUSTER``; default: ``ray:ADDRESS`` on Ray, else
            ``machine:HOSTNAME``); replicas admitting onto one cluster must share it.
        admission_lease_s: how long the admission authority (and a replica's requests)
            hold unless renewed: a dead holder is replaced within about 4/3 of this
            (``AIRFOIL_ADMISSION_LEASE_S``, default 5).
        history_runs: how many of the latest successful runs make a task version's history
            (``AIRFOIL_HISTORY_RUNS``, default 100, at most 10,000).
    """

    # Built below, with pydantic's plugins off (``_without_pydantic_plugins``).
    model_config = ConfigDict(extra="ignore", validate_default=True, defer_build=True)

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**environment_values(type(self).model_fields), **values})

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """What ``repr``/``str`` show: every field, a URL's password as ``***``."""
        for name, value in super().__repr_args__():
            yield name, masked_url(value) if isinstance(value, str) else value

    home: str = Field(default_factory=lambda: os.path.join(os.path.expanduser("~"), ".airfoil"))
    database_url: str | None = None
    blob_url: str | None = None
    executor: str = "inline"
    ray_address: str | None = None
    blob_cache_dir: str = ""
    blob_cache_bytes: int = 10 * 2**30
    blob_cache_local: bool = False
    max_parallel: int | None = None
    worker_nice: int = Field(default=0, ge=0, le=19)
    project: str = "default"
    domain: str = "development"
    scheduler_policy: str = "airfoil"
    gpus: int | None = Field(default=None, ge=0)
    durability: Literal["process", "power"] = "process"
    converters: str = ""
    otel_endpoint: str = ""
    otel_map_first: int = Field(default=10, ge=0)
    otel_map_every: int = Field(default=100, ge=0)
    otel_map_failures: int = Field(default=100, ge=0)
    anomaly_k: float = Field(default=3.0, gt=0, allow_inf_nan=False)
    anomaly_min_history: int = Field(default=10, ge=2)
    history_runs: int = Field(default=100, ge=1, le=10_000)
    admission: Literal["auto", "process", "database"] = "auto"
    admission_cluster: str = ""
    admission_lease_s: float = Field(default=5.0, gt=0, allow_inf_nan=False)

    def resolved_otel_endpoint(self) -> str:
        """The OTLP/HTTP endpoint traces go to ("" for none): ``otel_endpoint``, else the
        standard ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
        return self.otel_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")

    @field_validator("executor")
    @classmethod
    def _executor_name(cls, value: str) -> str:
        name = value.strip()
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(
                f"invalid executor name {value!r}: use inline, process, ray or another "
                "registered executor's name (letters, digits, - and _)"
            )
        return name

    @field_validator("project", "domain")
    @classmethod
    def _tenancy(cls, value: str, info: ValidationInfo) -> str:
        """The project names and domains a server takes (``airfoil.core.projects``)."""
        check = project_name_problem if info.field_name == "project" else domain_problem
        problem = check(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("blob_cache_bytes", mode="before")
    @classmethod
    def _cache_bytes(cls, value: object) -> int:
        from airfoil.core.errors import ConfigError
        from airfoil.core.resources import parse_memory

        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        try:
            if not isinstance(value, int | str):
                raise ConfigError(f"not a size: {value!r}")
            return parse_memory(value)
        except ConfigError:
            raise ValueError(
                f"invalid blob cache size {value!r}: give bytes or a quantity like '20Gi' "
                "(0 turns the cache off)"
            ) from None

    @field_validator("blob_cache_dir")
    @classmethod
    def _cache_dir(cls, value: str) -> str:
        if value and not os.path.isabs(os.path.expanduser(value)):
            raise ValueError(
                f"the blob cache folder must be an absolute path (each node resolves it on its "
                f"own disk), got {value!r}: e.g. /var/cache/airfoil"
            )
        return value

    def converter_paths(self) -> list[str]:
        """:attr:`converters` as a list of import paths."""
        return [p.strip() for p in self.converters.split(",") if p.strip()]

    def resolved_blob_url(self) -> str:
        return self.blob_url or os.path.join(
            os.path.abspath(os.path.expanduser(self.home)), "blobs"
        )


@contextlib.contextmanager
def _without_pydantic_plugins() -> Iterator[None]:
    """Pydantic's documented ``PYDANTIC_DISABLE_PLUGINS`` switch, for one model's build.

    Building the first validator of a process looks up pydantic's plugins: an
    ``importlib.metadata`` scan of every installed distribution's entry points (~35 M
    instructions here, ~4% of an ``airfoil run`` of hello; issue 17's W5). No plugin has any
    business observing the validation of Airfoil's own settings (Typer builds its parameters'
    adapters the same way); a user's models still get their plugins, looked up when the first
    of them is built.
    """
    previous = os.environ.get("PYDANTIC_DISABLE_PLUGINS")
    os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["PYDANTIC_DISABLE_PLUGINS"]
        else:
            os.environ["PYDANTIC_DISABLE_PLUGINS"] = previous


with _without_pydantic_plugins():
    AirfoilSettings.model_rebuild(force=True)
