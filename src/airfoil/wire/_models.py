"""Pydantic models of the ``/api/v1`` HTTP API.

Conventions:

- Every model forbids unknown fields on requests (``extra="forbid"``), so a misspelt field is a
  422 instead of being silently ignored.
- Times are seconds since the epoch (floats); durations are seconds.
- Every error response is an :class:`ErrorBody`: ``{"error": {"code": ..., "message": ...}}``.
- Type descriptions are given twice: ``type`` (readable, ``list[int]``) and ``type_spec`` (the
  structured :class:`~airfoil.core.records.TypeSpec` as JSON, for generated launch forms).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from airfoil.core.projects import DOMAINS, PROJECT_NAME
from airfoil.wire._limits import JsonInputs, JsonValue, Labels, PrintableName

__all__ = [
    "API_PREFIX",
    "DOMAINS",
    "ROLES",
    "AttemptOut",
    "CacheEntryOut",
    "CacheExplanation",
    "CacheKeyPartsOut",
    "CacheList",
    "CacheRef",
    "CodeChangesOut",
    "EntityIn",
    "EntityList",
    "EntitySummary",
    "EntityVersionOut",
    "ErrorBody",
    "ErrorDetail",
    "ErrorOut",
    "EventList",
    "EventOut",
    "ExecutionDetail",
    "ExecutionPage",
    "ExecutionSummary",
    "GateOut",
    "GraphNodeOut",
    "GraphOut",
    "Identity",
    "InterfaceOut",
    "LaunchPlanIn",
    "LaunchPlanLaunchRequest",
    "LaunchPlanList",
    "LaunchPlanOut",
    "LaunchRequest",
    "LogOut",
    "MapItemOut",
    "MapItemsOut",
    "NodeOut",
    "PackageOut",
    "UploadOut",
    "ParamOut",
    "ProjectIn",
    "ProjectList",
    "ProjectOut",
    "RawValue",
    "RawValues",
    "RegisterRequest",
    "RegisterResponse",
    "ScheduleStateOut",
    "SignalIn",
    "SignalOut",
    "UnreadableOut",
    "ValueOut",
    "VersionList",
]

#: Where the versioned API lives.
API_PREFIX = "/api/v1"
#: Roles, weakest first: each may do everything the ones before it may.
ROLES = ("viewer", "runner", "admin")

_NAME = PROJECT_NAME


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --- errors ---------------------------------------------------------------------------------


class ErrorDetail(_Response):
    """What went wrong: a stable machine-readable ``code`` and a message for people."""

    code: str = Field(examples=["version_conflict"])
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(_Response):
    """The body of every error response."""

    error: ErrorDetail


# --- projects and auth ----------------------------------------------------------------------


class ProjectIn(_Request):
    """Create a project."""

    name: str = Field(pattern=_NAME)
    description: str = Field(default="", max_length=2000)


class ProjectOut(_Response):
    """A project and its domains."""

    name: str
    description: str = ""
    domains: list[str] = list(DOMAINS)
    created_at: float | None = None


class ProjectList(_Response):
    items: list[ProjectOut]


class Identity(_Response):
    """Who the caller is: the key's id, project and role (``open`` when no keys exist)."""

    key_id: str
    project: str
    role: Literal["viewer", "runner", "admin"]
    open_mode: bool = False


# --- registration ---------------------------------------------------------------------------


class PackageOut(_Response):
    """A code package: a content-addressed archive of the user's source."""

    sha256: str
    size: int
    created: bool


class UploadOut(_Response):
    """The bytes of a launch input (file, dataframe, array), kept under their SHA-256."""

    sha256: str
    size: int


class EntityIn(_Request):
    """One task or workflow to register: its spec record as JSON.

    ``spec`` is a :class:`~airfoil.core.records.TaskSpec` for a task and a
    :class:`~airfoil.core.records.WorkflowSpec` for a workflow, as msgspec JSON.
    """

    kind: Literal["task", "workflow"]
    name: PrintableName = Field(min_length=1, max_length=300)
    version: PrintableName = Field(min_length=1, max_length=200)
    spec: dict[str, Any]


class LaunchPlanIn(_Request):
    """One launch plan to register: its spec record as msgspec JSON."""

    name: PrintableName = Field(min_length=1, max_length=300)
    spec: dict[str, Any]


class RegisterRequest(_Request):
    """Register entities of a code package uploaded before (``PUT .../packages/{sha256}``),
    and launch plans of it (each plan's workflow among the entities or registered before)."""

    package: str = Field(pattern=r"^[0-9a-f]{64}$")
    entities: list[EntityIn] = Field(min_length=1, max_length=2000)
    launch_plans: list[LaunchPlanIn] = Field(default=[], max_length=500)


class ParamOut(_Response):
    """One input or output of an interface."""

    name: str
    type: str
    type_spec: dict[str, Any]
    description: str = ""
    has_default: bool = False
    default: Any = None


class InterfaceOut(_Response):
    inputs: list[ParamOut]
    outputs: list[ParamOut]


class LaunchPlanOut(_Response):
    """A registered launch plan version.

    ``default_inputs`` may be overridden by a launch, ``fixed_inputs`` may not; ``schedule``
    describes when it fires once activated (``""``: no schedule).
    """

    project: str
    name: str
    version: str
    workflow: str
    workflow_version: str
    package: str
    registered_at: float
    interface: InterfaceOut
    default_inputs: list[str] = []
    fixed_inputs: list[str] = []
    schedule: str = ""
    created: bool = False


class LaunchPlanList(_Response):
    items: list[LaunchPlanOut]


class EntityVersionOut(_Response):
    """One registered version of a task or workflow."""

    project: str
    kind: Literal["task", "workflow"]
    name: str
    version: str
    package: str
    registered_at: float
    interface: InterfaceOut
    docs: str = ""
    created: bool = False


class RegisterResponse(_Response):
    entities: list[EntityVersionOut]
    launch_plans: list[LaunchPlanOut] = []


class EntitySummary(_Response):
    """A task or workflow name with its newest version."""

    kind: Literal["task", "workflow"]
    name: str
    latest_version: str
    versions: int
    registered_at: float


class EntityList(_Response):
    items: list[EntitySummary]


class VersionList(_Response):
    items: list[EntityVersionOut]


class LaunchPlanLaunchRequest(_Request):
    """Launch a registered launch plan (its newest version unless ``version`` is given).

    ``inputs`` override the plan's default inputs; giving a fixed input is a 422 with code
    ``fixed_input``.
    """

    version: str | None = Field(default=None, max_length=200)
    inputs: JsonInputs = {}
    name: str | None = Field(default=None, max_length=100)
    labels: Labels = {}


class ScheduleStateOut(_Response):
    """A launch plan's schedule in one domain: whether it fires, and when next.

    ``problem``: why the stored schedule cannot fire (it was stored before a rule tightened:
    a FixedRate under a second or past a century); ``""`` when it can. Such a schedule is
    listed, and the scheduler loop pauses it.
    """

    project: str
    domain: str
    name: str
    version: str
    schedule: str
    active: bool
    next_fire_at: float | None = None
    last_fired_at: float | None = None
    last_execution_id: str = ""
    problem: str = ""


# --- executions -----------------------------------------------------------------------------


class LaunchRequest(_Request):
    """Launch a registered task or workflow.

    ``inputs`` are plain JSON checked against the interface: numbers, text, booleans, arrays,
    objects for dataclasses and models, ISO 8601 text for dates, member names for enums.
    """

    entity: str = Field(min_length=1, max_length=300)
    version: str | None = Field(default=None, max_length=200)
    inputs: JsonInputs = {}
    name: str | None = Field(default=None, max_length=100)
    labels: Labels = {}


class SignalIn(_Request):
    """A value for a gate: ``true``/``false`` for an approval, a typed value for an input."""

    value: JsonValue


class SignalOut(_Response):
    execution_id: str
    name: str
    node_id: str


class ErrorOut(_Response):
    kind: str
    type: str
    message: str
    traceback: str = ""


class ValueOut(_Response):
    """A stored value: a JSON preview (for small or previewable values) and a download link."""

    name: str
    type: str
    hash: str
    format: str
    size: int
    preview: Any = None
    preview_error: str | None = None
    download: str | None = None


class AttemptOut(_Response):
    attempt: int
    phase: str
    started_at: float
    ended_at: float | None = None
    duration_s: float | None = None
    worker: str = ""
    error: ErrorOut | None = None
    has_log: bool = False
    #: The attempt's OpenTelemetry ids (hex) in traces exported when the server has
    #: ``otel_endpoint``: the execution's trace, the attempt's span.
    trace_id: str = ""
    span_id: str = ""


class NodeOut(_Response):
    """One node of an execution, with its attempts and cache status."""

    id: str
    task: str = ""
    kind: str = "task"
    #: the task's type (``python``, ``shell``, ``sql``, ``container``, ``training``...; ""
    #: for nodes that are no task)
    task_type: str = ""
    #: a training task's workers (ranks: ``GET .../logs?rank=R`` reads one's log); 0 otherwise
    workers: int = 0
    parent: str = ""
    phase: str
    attempts: int = 0
    cache_status: str = "disabled"
    cache_reason: str = ""
    cache_key: str = ""
    queued_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    duration_s: float | None = None
    error: ErrorOut | None = None
    inputs: list[ValueOut] = []
    outputs: list[ValueOut] = []
    attempt_list: list[AttemptOut] = []
    map_counts: dict[str, int] = {}
    branch_taken: int = -1


class NodeDetailOut(NodeOut):
    """One node's own page: the node, and its attempts that no longer decode (stored by an
    older or faulty version), left out of ``attempt_list`` and named here."""

    unreadable: list[UnreadableOut] = []


class UnreadableOut(_Response):
    """A stored part of a run that cannot be read, left out of what it belongs to: the rest
    is shown, and this names it.

    ``kind`` is ``execution``, ``node``, ``attempt`` or ``event`` (a record that no longer
    decodes), or ``log`` or ``report`` (a blob that cannot be read); ``id`` the execution's
    id, or for its parts ``<execution>/<node>``, ``<execution>/<node>#<attempt>`` and
    ``<execution>@<seq>`` (``?`` where even that cannot be read); ``reason`` what failed (the
    decoder's message: the field and what it found); ``why`` why, in words, as the CLI and
    the console say it: "its blob is damaged or was changed by hand" (a log or report) or
    "it was stored by an older or faulty version of Airfoil" (a record); empty from a server
    older than the field."""

    kind: str
    id: str
    reason: str
    why: str = ""


class ExecutionSummary(_Response):
    """An execution as listed. ``id`` is its key across the server; ``name`` is what its
    project calls it (unique within the project and domain; the id itself when none was
    chosen). Routes take either, looked up within the path's project."""

    id: str
    name: str = ""
    project: str
    domain: str
    workflow: str
    version: str
    phase: str
    created_at: float
    started_at: float | None = None
    ended_at: float | None = None
    duration_s: float | None = None
    error: ErrorOut | None = None
    labels: dict[str, str] = {}
    node_count: int | None = None


class ExecutionDetail(ExecutionSummary):
    """An execution with its interface, inputs, outputs and nodes. ``unreadable``: its
    stored nodes and attempts that no longer decode, left out of ``nodes`` (the rest is
    shown)."""

    interface: InterfaceOut
    inputs: list[ValueOut] = []
    outputs: list[ValueOut] = []
    nodes: list[NodeOut] = []
    package: str = ""
    unreadable: list[UnreadableOut] = []


class ExecutionPage(_Response):
    """A page of executions. ``unreadable``: the page's rows that no longer decode, left out
    of ``items``; a plain listing counts them in ``total`` (``items`` and ``unreadable`` are
    the page's rows, so paging by their sum visits every row once), a search (``q``,
    ``since``, ``until``) cannot tell whether they match and counts only what it found."""

    items: list[ExecutionSummary]
    total: int
    limit: int
    offset: int
    unreadable: list[UnreadableOut] = []


class EventOut(_Response):
    """One phase change of an execution, node or attempt, with its cause: ``cause`` in words,
    ``cause_id`` the ``seq`` of the entry of the same log that caused it (0: a stimulus from
    outside the engine, such as the start or a user's request)."""

    seq: int
    at: float
    kind: str
    to_phase: str
    cause: str
    node_id: str = ""
    attempt: int = 0
    from_phase: str = ""
    cause_id: int = 0


class EventList(_Response):
    """A page of events after a seq. ``unreadable``: the stored events of that range that no
    longer decode, left out of ``items``. ``next_after``: on a full page, the ``after`` of the
    next (which may be empty); None when the page reached the end of the log so far."""

    items: list[EventOut]
    phase: str
    unreadable: list[UnreadableOut] = []
    next_after: int | None = None


class LogOut(_Response):
    """The log of one attempt. ``unreadable``: the node's stored attempts that no longer
    decode (passed over when finding its newest attempt)."""

    execution_id: str
    node_id: str
    attempt: int
    text: str
    rank: int | None = None  # set when this is a training rank's log
    unreadable: list[UnreadableOut] = []


class RawValue(_Response):
    """A stored value exactly as recorded, for clients that decode it to a Python value.

    ``inline`` is base64; an offloaded value has ``download`` instead.
    """

    hash: str
    format: str
    inline: str | None = None
    download: str | None = None
    size: int = 0
    meta: dict[str, str] = {}


class RawValues(_Response):
    execution_id: str
    phase: str
    values: dict[str, RawValue]


class CacheEntryOut(_Response):
    key: str
    task: str
    cache_version: str
    created_at: float
    execution_id: str = ""
    node_id: str = ""
    #: the name of the execution that wrote it, in its project (what routes take), and its
    #: domain, within which the name is unique (``?domain=``)
    execution_name: str = ""
    execution_domain: str = ""
    input_hashes: dict[str, str] = {}


class CacheList(_Response):
    items: list[CacheEntryOut]


class CacheRef(_Response):
    """A node whose run wrote a cache entry: its execution's id, name in the project (what
    ``airfoil`` commands and routes take) and domain; all empty when it belongs to another
    project (it is not shown)."""

    execution_id: str = ""
    node_id: str = ""
    execution_name: str = ""
    execution_domain: str = ""


class CacheKeyPartsOut(_Response):
    task: str
    scope: str = ""
    cache_version: str
    interface_hash: str
    inputs: dict[str, str] = {}


class CodeChangesOut(_Response):
    """What changed in the code since the version last cached: one line per function or
    constant, each change followed by its short diff."""

    since_version: str
    cached_by: CacheRef
    lines: list[str]


class CacheExplanation(_Response):
    """Why a node did or did not hit the cache (``airfoil cache explain``)."""

    execution_id: str
    #: the execution's name in its project; the reasons name executions so too
    execution_name: str = ""
    #: the execution's domain, within which its name is unique (``?domain=``)
    execution_domain: str = ""
    node: str
    #: the node's kind: a ``map`` has no key of its own (each item has one; ``cache`` is
    #: ``partial`` when some of its items were served from the cache)
    kind: str = ""
    task: str
    cache: str
    reason: str = ""
    key: str | None = None
    parts: CacheKeyPartsOut | None = None
    entry_now: CacheRef | None = None
    miss_now: str | None = None
    #: why the entries of the node's shared scope are not shown (``entry_now``, ``miss_now``
    #: and ``code_changes`` are then empty): the project may not read the scope now
    scope_closed: str | None = None
    code_changes: CodeChangesOut | None = None
    not_covered: dict[str, str] = {}


# --- the graph of an execution (for the console) --------------------------------------------


class GateOut(_Response):
    """What a gate node waits for: ``sleep``, ``input`` (a typed value) or ``approve``."""

    kind: Literal["sleep", "input", "approve"]
    name: str = ""
    type: str = ""
    type_spec: dict[str, Any] | None = None
    duration_s: float = 0.0
    timeout_s: float | None = None


class GraphNodeOut(_Response):
    """One node of an execution's graph: what it is and what it waits for.

    ``upstream`` are the ids of the nodes it depends on. Children of subworkflows,
    conditionals and dynamic nodes have ``parent`` set; a container depends on its children.
    ``summary`` is a short text of its constant inputs (``model=lr, c=0.5``), which tells
    several calls of one task apart.
    """

    id: str
    kind: str
    label: str
    summary: str = ""
    task: str = ""
    parent: str = ""
    upstream: list[str] = []
    gate: GateOut | None = None
    mapped: list[str] | None = None


class GraphOut(_Response):
    """The node graph of an execution (including graphs dynamic nodes built so far)."""

    execution_id: str
    nodes: list[GraphNodeOut]


class MapItemOut(_Response):
    """One item of a map node: its newest attempt."""

    index: int
    phase: str
    attempts: int
    started_at: float | None = None
    ended_at: float | None = None
    duration_s: float | None = None
    error: ErrorOut | None = None
    #: where the newest attempt ran; ``"cache"`` when the item was served from the cache
    worker: str | None = None
    #: ``hit`` (served from the cache), ``miss`` (a cached task's item that ran) or
    #: ``disabled`` (the task is not cached)
    cache: str = "disabled"


class MapItemsOut(_Response):
    """Items of a map node that have been tried, by index (untried items are pending)."""

    node_id: str
    items: list[MapItemOut]
    total: int
