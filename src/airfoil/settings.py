"""One typed settings object, read from ``AIRFOIL_*`` environment variables by entry points
(the CLI, a workflow called as a function, the server) and passed down. Nothing reads the
environment at import time.

The object reads its fields' ``AIRFOIL_<NAME>`` variables (any case) when built, below the
keyword arguments given, and checks each with msgspec's lax conversion against the field's
type and bounds (:data:`FIELDS`), reading a variable as pydantic-settings' ``BaseSettings``
with ``env_prefix="AIRFOIL_"`` did (``tests/unit/test_settings_env.py`` keeps a
``BaseSettings`` twin as the reference, and the few odd spellings where they part). It is a
plain class, not a pydantic model: importing pydantic and building the model's
validator cost every ``airfoil run`` about a quarter of its whole process (issue 17, W5;
importing pydantic-settings had cost another 15%). A bad value raises
:class:`SettingsError`, naming the variable, the problem and what to give instead.
"""

# No ``from __future__ import annotations``: the settings' annotations are their types
# (:data:`FIELDS` reads them from the class as it is built, with nothing to evaluate).

import json
import math
import os
import re
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal, NamedTuple, get_args, get_origin

import msgspec

from airfoil.core.errors import ConfigError
from airfoil.core.projects import domain_problem, project_name_problem

__all__ = ["FIELDS", "AirfoilSettings", "Field", "SettingsError", "checked_setting", "masked_url"]

ENV_PREFIX = "AIRFOIL_"
#: ``scheme://user:password@rest``: the password runs to the last ``@`` (unescaped ``@`` or
#: ``/`` in it are hidden too; a URL with an ``@`` later in its path hides more, never less).
#: (A pattern string: ``re`` compiles it on first use and caches it; a plain run never
#: needs it, and compiling at import cost every ``airfoil run``: issue 17, W5.)
_PASSWORD = r"^(?P<head>[A-Za-z][\w+.-]*://[^:/@]*):(?P<password>.*)@(?P<rest>[^@]*)$"


#: Query parameters that carry a credential: libpq's ``?password=``, a SAS token's ``sig``...
_SECRET_PARAM = (
    r"(?i)(?P<name>[?&;](?:password|passwd|pwd|secret|token|sig|access_token|api_key)=)[^&;#]*"
)


def masked_url(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part, and the values of query
    parameters that carry a credential (``password``, ``token``, ``sig``...), shown as
    ``***``, for reprs and messages; any other text is returned as it is."""
    match = re.match(_PASSWORD, url)
    if match is not None:
        url = f"{match['head']}:***@{match['rest']}"
    if "://" in url and "=" in url:
        url = re.sub(_SECRET_PARAM, r"\g<name>***", url)
    return url


def environment_values(fields: Iterable[str], environ: Any = None) -> dict[str, str]:
    """The ``AIRFOIL_<FIELD>`` variables of ``environ`` (default ``os.environ``) set for
    ``fields``, by field name; the variable's name is matched in any case."""
    env = os.environ if environ is None else environ
    wanted = {ENV_PREFIX.lower() + name.lower(): name for name in fields}
    return {wanted[k.lower()]: v for k, v in env.items() if k.lower() in wanted}


class SettingsError(ConfigError):
    """A setting (an ``AIRFOIL_*`` variable or a keyword argument of
    :class:`AirfoilSettings`) has a value Airfoil cannot use.

    Attributes:
        field: the setting's field name (``gpus``).
        variable: its environment variable (``AIRFOIL_GPUS``).
        problem: what is wrong and what to give instead.
        from_env: whether the value came from the environment (else from a keyword).
    """

    def __init__(self, field: str, problem: str, *, from_env: bool) -> None:
        self.field = field
        self.variable = ENV_PREFIX + field.upper()
        self.problem = problem
        self.from_env = from_env
        if field not in FIELDS:  # a keyword that names no setting
            super().__init__(problem)
            return
        where = self.variable if from_env else f"{field}= ({self.variable})"
        super().__init__(f"bad {where} setting: {problem}")


class Field(NamedTuple):
    """One setting: its type, its default (or a function making it) and its bounds."""

    annotation: Any
    default: Any = None
    factory: Callable[[], Any] | None = None
    ge: float | None = None
    le: float | None = None
    gt: float | None = None


def _default_home() -> str:
    return os.path.join(os.path.expanduser("~"), ".airfoil")


def _setting(
    default: Any = None,
    *,
    factory: Callable[[], Any] | None = None,
    ge: float | None = None,
    le: float | None = None,
    gt: float | None = None,
) -> Any:
    """A setting's default and bounds, as :class:`AirfoilSettings` declares them: its type
    is the attribute's annotation, which :data:`FIELDS` joins to them (``Any``, so that
    mypy reads the attribute as its annotation's type)."""
    return Field(None, default, factory, ge, le, gt)


# An environment variable is text: msgspec's lax conversion (``strict=False``) reads a
# number, a bool (true/false, 1/0) or a literal from it and checks the field's bounds;
# around it, surrounding blanks are dropped and a bool also takes yes/no, on/off, t/f, y/n
# (any case), as pydantic-settings did. A spelling it does not take ("+3", "1_000", ".5")
# is refused with what to give, never read as another value.
_BOOL_WORDS = {
    **dict.fromkeys(("on", "t", "y", "yes"), True),
    **dict.fromkeys(("off", "f", "n", "no"), False),
}


class _Bad(ValueError):
    """A value that is not of its field's type (the message says what to give)."""


def _kind(field: Field) -> Any:
    """``field``'s type without its ``None`` (a literal stays a literal)."""
    args = get_args(field.annotation)
    if get_origin(field.annotation) is Literal or not args:
        return field.annotation
    return next(a for a in args if a is not type(None))


def _checked_type(field: Field) -> Any:
    """``field``'s type as msgspec checks it: its bounds as ``msgspec.Meta``."""
    bounds = {k: getattr(field, k) for k in ("ge", "le", "gt") if getattr(field, k) is not None}
    if not bounds:
        return field.annotation
    checked: Any = Annotated[_kind(field), msgspec.Meta(**bounds)]
    return checked | None if type(None) in get_args(field.annotation) else checked


def _expected(field: Field) -> str:
    """What ``field`` takes, in words (for messages)."""
    args = get_args(field.annotation)
    if get_origin(field.annotation) is Literal:
        return "one of " + ", ".join(map(repr, args))
    kind = _kind(field)
    words = {int: "a whole number", float: "a finite number", bool: "true or false"}
    what = words.get(kind, "a string")
    bounds = [
        f"{op} {bound:g}"
        for op, bound in (("of at least", field.ge), ("of at most", field.le), ("above", field.gt))
        if bound is not None
    ]
    return what + (" " + " and ".join(bounds) if bounds else "")


def _convert(field: Field, value: object) -> Any:
    """``value`` as ``field``'s type, within its bounds; ``_Bad`` saying what to give."""
    checked, kind = _TYPES[field]
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        value = _BOOL_WORDS.get(text.lower(), text) if kind is bool else text
    try:
        out = msgspec.convert(value, checked, strict=False)
    except msgspec.ValidationError:
        raise _Bad(_expected(field)) from None
    if isinstance(out, float) and not math.isfinite(out):
        raise _Bad(_expected(field))
    return out


def _executor_name(value: str) -> str:
    name = value.strip()
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(
            f"invalid executor name {value!r}: use inline, process, ray or another "
            "registered executor's name (letters, digits, - and _)"
        )
    return name


def _tenancy(check: Callable[[str], str | None]) -> Callable[[str], str]:
    """The project names and domains a server takes (``airfoil.core.projects``)."""

    def validate(value: str) -> str:
        problem = check(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    return validate


def _cache_bytes(value: object) -> int:
    from airfoil.core.resources import parse_memory

    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    try:
        if not isinstance(value, int | str) or isinstance(value, bool):
            raise ConfigError(f"not a size: {value!r}")
        return parse_memory(value)
    except ConfigError:
        raise ValueError(
            f"invalid blob cache size {value!r}: give bytes or a quantity like '20Gi' "
            "(0 turns the cache off)"
        ) from None


def _cache_dir(value: str) -> str:
    if value and not os.path.isabs(os.path.expanduser(value)):
        raise ValueError(
            f"the blob cache folder must be an absolute path (each node resolves it on its "
            f"own disk), got {value!r}: e.g. /var/cache/airfoil"
        )
    return value


def _home(value: str) -> str:
    """The home folder as an absolute path, fixed when the settings are read: a relative
    ``AIRFOIL_HOME`` (or one whose ``~`` no shell expanded: a ``.env`` file, a unit file)
    would otherwise be looked up anew from the working directory of the moment, which an
    inline task may change (``os.chdir``), and the run's journal, or a store opened later,
    would land in another folder, where a resume never looks."""
    return os.path.abspath(os.path.expanduser(value)) if value else value


#: Checks after a value has its type (each raises ``ValueError`` with the problem and fix).
_AFTER: dict[str, Callable[[Any], Any]] = {
    "home": _home,
    "executor": _executor_name,
    "project": _tenancy(project_name_problem),
    "domain": _tenancy(domain_problem),
    "blob_cache_dir": _cache_dir,
}
#: Fields that read their value their own way instead of by type.
_INSTEAD: dict[str, Callable[[Any], Any]] = {"blob_cache_bytes": _cache_bytes}


def _checked(name: str, value: object, *, from_env: bool) -> Any:
    """``value`` for the setting ``name``, converted and checked; :class:`SettingsError`."""
    try:
        instead = _INSTEAD.get(name)
        out = instead(value) if instead is not None else _convert(FIELDS[name], value)
        after = _AFTER.get(name)
        return out if after is None else after(out)
    except _Bad as exc:
        fix = f", or unset {ENV_PREFIX}{name.upper()}" if from_env else ""
        problem = f"got {_masked(value)!r}: give {exc}{fix}"
        raise SettingsError(name, problem, from_env=from_env) from None
    except ValueError as exc:
        raise SettingsError(name, str(exc), from_env=from_env) from None


def checked_setting(name: str, value: object) -> Any:
    """``value`` for the setting ``name`` as a keyword of :class:`AirfoilSettings` takes it,
    converted and checked: for a configuration that carries a setting on its own
    (``airfoil.server.ServerConfig``) and would otherwise check it by hand.

    Raises:
        SettingsError: ``value`` is not one the setting takes, or ``name`` names no setting.
    """
    _unknown({name: value})
    return _checked(name, value, from_env=False)


def _masked(value: object) -> object:
    """``value``, a string with its URL's credentials hidden (:func:`masked_url`)."""
    return masked_url(value) if isinstance(value, str) else value


class AirfoilSettings:
    """Where Airfoil keeps its state and how it runs tasks.

    Attributes:
        home: the embedded default's folder (``$AIRFOIL_HOME``, default ``~/.airfoil``):
            ``airfoil.db`` (SQLite) and ``blobs/``.
        database_url: a SQLAlchemy URL (``postgresql+psycopg://...``); default SQLite in home.
            Like every credential of the platform (``AIRFOIL_SECRETS_KEY``,
            ``AIRFOIL_API_KEY``, ``AIRFOIL_SECRET_<NAME>``), its variable never reaches a
            worker (:data:`airfoil.core.worker_env.DENIED_VARIABLES`, the one list).
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
        lease_ttl_s: how long a local run's lease on its execution holds unless renewed
            (its heartbeat renews it every third of this): a driver killed mid-run can be
            resumed by another process within this (``AIRFOIL_LEASE_TTL_S``, default 30).
        history_runs: how many of the latest successful runs make a task version's history
            (``AIRFOIL_HISTORY_RUNS``, default 100, at most 10,000).
    """

    home: str = _setting(factory=_default_home)
    database_url: str | None = _setting()
    blob_url: str | None = _setting()
    executor: str = _setting("inline")
    ray_address: str | None = _setting()
    blob_cache_dir: str = _setting("")
    blob_cache_bytes: int = _setting(10 * 2**30)
    blob_cache_local: bool = _setting(False)
    max_parallel: int | None = _setting()
    worker_nice: int = _setting(0, ge=0, le=19)
    project: str = _setting("default")
    domain: str = _setting("development")
    scheduler_policy: str = _setting("airfoil")
    gpus: int | None = _setting(ge=0)
    durability: Literal["process", "power"] = _setting("process")
    converters: str = _setting("")
    otel_endpoint: str = _setting("")
    otel_map_first: int = _setting(10, ge=0)
    otel_map_every: int = _setting(100, ge=0)
    otel_map_failures: int = _setting(100, ge=0)
    anomaly_k: float = _setting(3.0, gt=0)
    anomaly_min_history: int = _setting(10, ge=2)
    history_runs: int = _setting(100, ge=1, le=10_000)
    admission: Literal["auto", "process", "database"] = _setting("auto")
    admission_cluster: str = _setting("")
    admission_lease_s: float = _setting(5.0, gt=0)
    lease_ttl_s: float = _setting(30.0, gt=0)

    def __init__(self, **values: Any) -> None:
        """The settings given as keywords, the others from their ``AIRFOIL_*`` variables
        (any case), the rest their defaults.

        Raises:
            SettingsError: a value (given or from the environment) is not one the setting
                takes, or a keyword names no setting.
        """
        _unknown(values)
        env = environment_values(FIELDS)
        fields = self.__dict__
        for name, field in FIELDS.items():
            if name in values:
                fields[name] = _checked(name, values[name], from_env=False)
            elif name in env:
                fields[name] = _checked(name, env[name], from_env=True)
            else:  # every default passes its checks (tests/unit/test_settings_env.py)
                fields[name] = field.default if field.factory is None else field.factory()
        self._fields_set = frozenset(values.keys() | env.keys())

    @property
    def model_fields_set(self) -> set[str]:
        """The settings given as keywords or by the environment (not left at defaults)."""
        return set(self._fields_set)

    def model_dump(self) -> dict[str, Any]:
        """Every setting by name (the pydantic-model method's name, kept for callers)."""
        return {name: self.__dict__[name] for name in FIELDS}

    def model_dump_json(self) -> str:
        """The settings as one JSON object, fields in their fixed order: a stable key (the
        runtime cache's, ``airfoil.local``)."""
        return json.dumps(self.model_dump(), separators=(",", ":"))

    def model_copy(self, *, update: dict[str, Any] | None = None) -> "AirfoilSettings":
        """A copy with the settings ``update`` names replaced (each checked as a keyword
        would be; the environment is not read again)."""
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        if update:
            _unknown(update)
            for name, value in update.items():
                copy.__dict__[name] = _checked(name, value, from_env=False)
            copy._fields_set = self._fields_set | update.keys()
        return copy

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.model_dump() == other.model_dump()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable, as a pydantic model

    def __repr__(self) -> str:
        """Every field, a URL's password (and credential parameters) as ``***``."""
        return f"{type(self).__name__}({self._shown(', ')})"

    def __str__(self) -> str:
        return self._shown(" ")

    def _shown(self, sep: str) -> str:
        return sep.join(f"{k}={_masked(v)!r}" for k, v in self.model_dump().items())

    def resolved_otel_endpoint(self) -> str:
        """The OTLP/HTTP endpoint traces go to ("" for none): ``otel_endpoint``, else the
        standard ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
        return self.otel_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")

    def converter_paths(self) -> list[str]:
        """:attr:`converters` as a list of import paths."""
        return [p.strip() for p in self.converters.split(",") if p.strip()]

    def resolved_blob_url(self) -> str:
        return self.blob_url or os.path.join(
            os.path.abspath(os.path.expanduser(self.home)), "blobs"
        )


def _declared(cls: type) -> dict[str, Field]:
    """``cls``'s settings, in the order declared: each annotation joined to its default
    and bounds (:func:`_setting`), which leave the class (an instance holds every value)."""
    fields: dict[str, Field] = {}
    for name, annotation in cls.__annotations__.items():
        fields[name] = cls.__dict__[name]._replace(annotation=annotation)
        delattr(cls, name)
    return fields


#: Every setting, in the order they are checked (the first bad one is reported): the
#: attributes :class:`AirfoilSettings` declares, its one list.
FIELDS: dict[str, Field] = _declared(AirfoilSettings)
#: Each field's checked type and its kind (by :data:`FIELDS` entry).
_TYPES: dict[Field, tuple[Any, Any]] = {f: (_checked_type(f), _kind(f)) for f in FIELDS.values()}


def _unknown(values: dict[str, Any]) -> None:
    """Refuse keywords that name no setting (a misspelt one would be silently ignored)."""
    unknown = sorted(values.keys() - FIELDS.keys())
    if unknown:
        raise SettingsError(
            unknown[0],
            f"unknown setting {unknown[0]!r}: the settings are {', '.join(FIELDS)}",
            from_env=False,
        )
