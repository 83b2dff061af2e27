"""Frozen, versioned records: everything Airfoil persists or sends.

Records are msgspec structs with explicit tags and field names, so a rename in Python does
not break stored data. Add fields with defaults; never reuse a removed field's name.

- Types and values: :class:`TypeSpec` describes a type; :class:`Value` holds a serialised
  value inline or a reference to an offloaded blob, always with its content hash.
- Specs: :class:`TaskSpec`, :class:`WorkflowSpec` and their parts.
- Runs: :class:`ExecutionRecord` -> :class:`NodeRecord` -> :class:`AttemptRecord`, the
  :class:`EventRecord` log, and :class:`CacheEntry`.

Records the collector skips: :class:`Value`, :class:`ErrorInfo`, :class:`AttemptRecord` and
:class:`NodeRecord` are made by the thousand (every input and output, every map item's try,
every node of every execution a server drives) and live while a run does, so they are
declared ``gc=False``: the cycle collector neither counts nor scans them (nor the dicts that
hold only them, which CPython then leaves untracked too). That is sound because their fields
hold only strings, numbers, bytes and other records (specs, cache key parts), none of which
can refer back to them: they can never be part of a reference cycle. Keep it so (no field
that can hold an arbitrary object).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from airfoil.core.phases import ErrorKind, GateKind, NodeKind
from airfoil.core.resources import ResourceSpec

__all__ = [
    "AttemptRecord",
    "Binding",
    "BranchCase",
    "CacheEntry",
    "CacheKeyParts",
    "CachePolicy",
    "Condition",
    "ERROR_MESSAGE_MAX",
    "ERROR_TRACEBACK_MAX",
    "ErrorInfo",
    "EventRecord",
    "ExecutionHead",
    "ExecutionRunHead",
    "ExecutionRecord",
    "GRAPH_FORMAT",
    "GRAPH_OUTPUT",
    "GateSpec",
    "Interface",
    "MapSpec",
    "NodeRecord",
    "NodeSpec",
    "Param",
    "StoreBatch",
    "TaskSpec",
    "TypeSpec",
    "Value",
    "WorkflowSpec",
    "clipped",
    "decode_json",
    "encode_json",
    "execution_head",
]

SCHEMA_VERSION = 1

#: The output by which an attempt hands the engine a graph to run as its node's children
#: (a :class:`WorkflowSpec` as JSON, in a value of format :data:`GRAPH_FORMAT`). Whichever task
#: type's runner returns it -- ``dynamic``'s, or any other -- gets its graph run: the engine
#: asks the result, never the task type.
GRAPH_OUTPUT = "__dynamic__"
GRAPH_FORMAT = "af-dynamic"


class TypeSpec(msgspec.Struct, frozen=True, omit_defaults=True):
    """A serialisable description of a Python type.

    Attributes:
        kind: ``int``, ``float``, ``bool``, ``str``, ``bytes``, ``none``, ``datetime``, ``date``,
            ``timedelta``, ``enum``, ``union``, ``list``, ``dict``, ``tuple``, ``dataclass``,
            ``pydantic``, ``file``, ``directory``, ``dataframe``, ``ndarray``, ``pickle``, ``any``.
        name: qualified Python name for named kinds (``"mymod.Color"``); the flavour for
            dataframes (``"pandas"``, ``"polars"``, ``"pyarrow"``).
        args: element types: ``list[T]`` -> ``(T,)``, ``dict[K, V]`` -> ``(K, V)``, unions
            -> members, tuples -> elements (``variadic`` for ``tuple[T, ...]``).
        fields: ``(name, type)`` pairs of dataclasses and pydantic models.
        values: member names of enums.
        variadic: ``tuple[T, ...]``.
        labels: the text values of an enum's members, in the order of ``values`` ("" for a
            member whose value is not text); empty when every member's value is its name or
            none is text. JSON launches accept a label as well as a name (``"latte"`` for
            ``LATTE = "latte"``), as the CLI does.
        optional: the keys of a ``TypedDict`` (a ``dataclass`` kind read back as a dict)
            that may be left out (``NotRequired``, ``total=False``): a server, which has no
            user code, takes a launch without them as the CLI and Python do.
    """

    kind: str
    name: str = ""
    args: tuple[TypeSpec, ...] = ()
    fields: tuple[tuple[str, TypeSpec], ...] = ()
    values: tuple[str, ...] = ()
    variadic: bool = False
    labels: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.kind == "union":
            return " | ".join(str(a) for a in self.args)
        if self.kind in ("list", "dict", "tuple") and self.args:
            inner = ", ".join(str(a) for a in self.args)
            return f"{self.kind}[{inner}{', ...' if self.variadic else ''}]"
        if self.name:
            return (
                self.name.rsplit(".", 1)[-1]
                if self.kind != "dataframe"
                else (f"DataFrame[{self.name}]")
            )
        return self.kind


class Value(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    """A serialised value: small ones inline, large ones offloaded to the blob store.

    Not tracked by the cycle collector (``gc=False``; see "Records the collector skips"
    in the module docstring).

    Attributes:
        hash: content hash (hex SHA-256 of the canonical serialised form). Feeds cache keys.
        format: codec that wrote it (``json``, ``parquet``, ``npy``, ``pickle``, ``file``, ...).
        inline: the serialised bytes, when small.
        uri: where the blob lives, when offloaded.
        size: serialised size in bytes.
        meta: codec details (column names and dtypes, shape, file name, row count).
    """

    hash: str
    format: str
    inline: bytes | None = None
    uri: str | None = None
    size: int = 0
    meta: dict[str, str] = {}


class Param(msgspec.Struct, frozen=True, omit_defaults=True):
    """One input or output of an interface."""

    name: str
    type: TypeSpec
    description: str = ""
    default: Value | None = None
    has_default: bool = False


class Interface(msgspec.Struct, frozen=True, omit_defaults=True):
    """Typed inputs and outputs of a task or workflow. Outputs of a single value: ``o0``."""

    inputs: tuple[Param, ...] = ()
    outputs: tuple[Param, ...] = ()
    output_style: str = "single"  # "none" | "single" | "named" (NamedTuple) | "tuple"
    output_tuple_name: str = ""

    def input(self, name: str) -> Param | None:
        for p in self.inputs:
            if p.name == name:
                return p
        return None

    def output(self, name: str) -> Param | None:
        for p in self.outputs:
            if p.name == name:
                return p
        return None


class CachePolicy(msgspec.Struct, frozen=True, omit_defaults=True):
    """How a task is cached."""

    enabled: bool = False
    version: str = ""
    serialize: bool = False
    ignore_inputs: tuple[str, ...] = ()
    #: Empty: entries belong to the execution's project. A name: shared by every project
    #: whose task names it (an explicit opt-in).
    scope: str = ""


class TaskSpec(msgspec.Struct, frozen=True, omit_defaults=True, tag="task"):
    """A task as registered: identity, interface, resources, retries, cache policy."""

    name: str
    version: str
    interface: Interface
    module: str
    qualname: str
    requests: ResourceSpec = ResourceSpec()
    limits: ResourceSpec = ResourceSpec()
    retries: int = 0
    system_retries: int = 3
    timeout_s: float | None = None
    cache: CachePolicy = CachePolicy()
    interruptible: bool = False
    environment: dict[str, str] = {}
    secret_requests: tuple[str, ...] = ()
    docs: str = ""
    task_type: str = "python"
    is_async: bool = False
    #: The task type's own settings (JSON data; the type's runner decodes it into its typed
    #: config). Empty for plain Python tasks.
    config: dict[str, Any] = {}
    #: Resources a cluster's nodes declare beyond CPUs, memory and GPUs (Ray's custom
    #: resources): the task runs only where they are. Requests only.
    custom_resources: dict[str, float] = {}
    #: The accelerator kind the task needs (Ray's ``accelerator_type``: ``A100``...).
    accelerator: str = ""


class Binding(msgspec.Struct, frozen=True, omit_defaults=True):
    """Where a node input comes from.

    Attributes:
        kind: ``input`` (a workflow input ``name``), ``output`` (``node``'s output ``name``),
            ``literal`` (a constant ``value``), ``list`` / ``dict`` (``items``, with ``keys``).
    """

    kind: str
    name: str = ""
    node: str = ""
    value: Value | None = None
    items: tuple[Binding, ...] = ()
    keys: tuple[str, ...] = ()


class Condition(msgspec.Struct, frozen=True, omit_defaults=True):
    """A branch condition over promises and constants.

    Attributes:
        kind: ``cmp`` (``lhs op rhs``), ``and`` / ``or`` (``left``, ``right``), or the unary
            tests ``is_true``, ``is_false``, ``is_none`` (on ``lhs``).
        op: ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` for ``cmp``.
    """

    kind: str
    op: str = ""
    lhs: Binding | None = None
    rhs: Binding | None = None
    left: Condition | None = None
    right: Condition | None = None

    def __str__(self) -> str:
        def side(b: Binding | None) -> str:
            if b is None:
                return "?"
            if b.kind == "literal" and b.value is not None and b.value.inline is not None:
                return b.value.inline.decode()
            if b.kind == "input":
                return b.name
            return f"{b.node}.{b.name}"

        if self.kind == "cmp":
            return f"{side(self.lhs)} {self.op} {side(self.rhs)}"
        if self.kind in ("and", "or"):
            return f"({self.left}) {self.kind} ({self.right})"
        return f"{self.kind}({side(self.lhs)})"


class BranchCase(msgspec.Struct, frozen=True, omit_defaults=True):
    """One case of a conditional: ``condition`` (None for ``else``), the nodes it runs, and
    the bindings of the conditional's outputs when it is taken (or a failure message)."""

    condition: Condition | None
    nodes: tuple[NodeSpec, ...] = ()
    outputs: dict[str, Binding] = {}
    fail_message: str = ""
    label: str = ""


class MapSpec(msgspec.Struct, frozen=True, omit_defaults=True):
    """How a map node fans its task out: which inputs are lists to map over (the others are
    fixed), how many items may run at once (0: no limit), and the share of items that must
    succeed."""

    mapped: tuple[str, ...]
    concurrency: int = 0
    min_success_ratio: float = 1.0


class GateSpec(msgspec.Struct, frozen=True, omit_defaults=True):
    """A node that waits: ``sleep`` for ``duration_s``; ``input`` for a signal ``name`` of
    type ``type``; ``approve`` for a yes/no signal ``name`` on its ``value`` input. A waiting
    gate fails after ``timeout_s`` counted from when it started (also across restarts)."""

    kind: GateKind
    name: str = ""
    duration_s: float = 0.0
    timeout_s: float | None = None
    type: TypeSpec | None = None


class NodeSpec(msgspec.Struct, frozen=True, omit_defaults=True):
    """One node of a workflow graph: a task call, a subworkflow call, a conditional, a
    map of a task over lists, or a gate."""

    id: str
    #: What the node is; a spec naming any other kind is refused when decoded.
    kind: NodeKind
    inputs: dict[str, Binding]
    task: TaskSpec | None = None
    workflow: WorkflowSpec | None = None
    upstream: tuple[str, ...] = ()
    label: str = ""
    location: str = ""
    cases: tuple[BranchCase, ...] = ()
    map: MapSpec | None = None
    gate: GateSpec | None = None


class WorkflowSpec(msgspec.Struct, frozen=True, omit_defaults=True, tag="workflow"):
    """A typed graph of nodes with bindings between outputs and inputs."""

    name: str
    version: str
    interface: Interface
    nodes: tuple[NodeSpec, ...]
    outputs: dict[str, Binding]
    module: str = ""
    qualname: str = ""
    docs: str = ""
    failure_policy: str = "fail_immediately"
    on_failure: NodeSpec | None = None  # run with the failure's details when a run fails


#: The longest message and traceback (characters) an :class:`ErrorInfo` made from a task's
#: exception keeps (:func:`clipped`): a failure is copied into the execution, its head, the
#: node, the attempt and the terminal, so an exception carrying megabytes (a whole payload
#: in its message) would cost each of them as much. 16 KiB holds any message written for a
#: person; a traceback's frames come before its message, so its head keeps them.
ERROR_MESSAGE_MAX = 16_384
ERROR_TRACEBACK_MAX = 65_536


def clipped(text: str, limit: int) -> str:
    """``text`` if it has at most ``limit`` characters, else its head and tail around a note
    of how many characters were cut, ``limit`` characters in all."""
    if len(text) <= limit:
        return text
    keep = limit - 64  # room for the note, whose count has at most 20 digits
    note = f"\n[... {len(text) - keep} characters cut ...]\n"
    return text[: keep - keep // 2] + note + text[len(text) - keep // 2 :]


class ErrorInfo(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    """A failure as recorded: ``kind`` is ``user`` (the task's code failed; its
    ``retries``), ``system`` (the platform failed; its ``system_retries``) or ``data`` (an
    input's stored bytes are damaged: never retried)."""

    kind: ErrorKind
    type: str
    message: str
    traceback: str = ""


class CacheKeyParts(msgspec.Struct, frozen=True, omit_defaults=True):
    """The parts a cache key is made of, kept so a miss can be explained.

    ``scope`` is ``project:<name>/<domain>`` (the default: no other project, nor another
    domain of the project, shares the entry) or ``shared:<name>`` (tasks that opted in with
    ``cache_scope=``); ``project:<name>`` in entries written before domains were part of it,
    empty in entries written before keys were scoped.
    """

    task: str
    cache_version: str
    interface_hash: str
    input_hashes: dict[str, str]
    scope: str = ""


class ExecutionRecord(msgspec.Struct, omit_defaults=True):
    """One run of a workflow (or of a single task, wrapped)."""

    id: str
    workflow: str
    version: str
    phase: str
    spec: WorkflowSpec
    inputs: dict[str, Value]
    created_at: float
    project: str = "default"
    domain: str = "development"
    outputs: dict[str, Value] | None = None
    error: ErrorInfo | None = None
    started_at: float | None = None
    ended_at: float | None = None
    executor: str = "inline"
    code_root: str = ""
    labels: dict[str, str] = {}
    schema_version: int = SCHEMA_VERSION
    #: The name its project addresses it by, unique within ``(project, domain)``; empty: the
    #: ``id`` is the name (a generated id, or a run written before names were per project).
    name: str = ""
    #: The ``Idempotency-Key`` of the launch request that made it (the server's launch
    #: route), and a digest of that request: a retry with the key and the same request is
    #: answered with this execution while the server keeps the key; empty: none.
    idempotency_key: str = ""
    request_digest: str = ""

    @property
    def display_name(self) -> str:
        """The execution's name within its project and domain."""
        return self.name or self.id


class ExecutionHead(msgspec.Struct, frozen=True, omit_defaults=True):
    """What a listing shows of an execution: its :class:`ExecutionRecord` without the
    workflow spec, inputs and outputs (decoded from the same stored JSON, so a listing
    never pays for decoding a large graph per row)."""

    id: str
    workflow: str
    version: str
    phase: str
    created_at: float
    project: str = "default"
    domain: str = "development"
    error: ErrorInfo | None = None
    started_at: float | None = None
    ended_at: float | None = None
    executor: str = "inline"
    code_root: str = ""
    labels: dict[str, str] = {}
    name: str = ""

    @property
    def display_name(self) -> str:
        """The execution's name within its project and domain."""
        return self.name or self.id


class ExecutionRunHead(ExecutionHead, frozen=True, omit_defaults=True):
    """:class:`ExecutionHead` with the execution's inputs: what the experiment table of many
    runs reads (decoded from the same stored JSON, still without the spec and outputs)."""

    inputs: dict[str, Value] = {}


def execution_head(rec: ExecutionRecord) -> ExecutionHead:
    """The head of an execution record (what :class:`ExecutionHead` keeps of it)."""
    return ExecutionHead(
        id=rec.id,
        workflow=rec.workflow,
        version=rec.version,
        phase=rec.phase,
        created_at=rec.created_at,
        project=rec.project,
        domain=rec.domain,
        error=rec.error,
        started_at=rec.started_at,
        ended_at=rec.ended_at,
        executor=rec.executor,
        code_root=rec.code_root,
        labels=dict(rec.labels),
        name=rec.name,
    )


class NodeRecord(msgspec.Struct, omit_defaults=True, gc=False):
    """The state of one node of one execution. Subworkflow children have ``parent`` set.

    Not tracked by the cycle collector (see the module docstring)."""

    execution_id: str
    node_id: str
    phase: str
    kind: str = "task"
    task: str = ""
    parent: str = ""
    attempts: int = 0
    user_failures: int = 0
    system_failures: int = 0
    cache_status: str = "disabled"
    cache_reason: str = ""
    cache_key: str = ""
    cache_key_parts: CacheKeyParts | None = None
    inputs: dict[str, Value] | None = None
    outputs: dict[str, Value] | None = None
    error: ErrorInfo | None = None
    queued_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    retry_at: float | None = None
    branch_taken: int = -1
    map_counts: dict[str, int] = {}
    dynamic_spec: WorkflowSpec | None = None  # the graph a dynamic node built


class AttemptRecord(msgspec.Struct, omit_defaults=True, gc=False):
    """One try of a node (not tracked by the cycle collector: see the module docstring)."""

    execution_id: str
    node_id: str
    attempt: int
    phase: str
    started_at: float
    ended_at: float | None = None
    error: ErrorInfo | None = None
    worker: str = ""
    log_uri: str = ""
    outputs: dict[str, Value] | None = None  # map items only: the item's outputs


class EventRecord(msgspec.Struct, frozen=True, omit_defaults=True):
    """One entry of an execution's event log: a phase change with its cause.

    ``cause`` says why in words; ``cause_id`` is the ``seq`` of the entry of the same log
    that caused this one (0: a stimulus from outside the engine -- a start, a launch, a
    user's request). Following ``cause_id`` from any entry walks back to where it began.
    """

    execution_id: str
    seq: int
    at: float
    kind: str  # "execution" | "node" | "attempt" | "cache"
    to_phase: str
    cause: str
    node_id: str = ""
    attempt: int = 0
    from_phase: str = ""
    cause_id: int = 0


class CacheEntry(msgspec.Struct, frozen=True, omit_defaults=True):
    """A cached result: the outputs of a task for one cache key."""

    key: str
    parts: CacheKeyParts
    outputs: dict[str, Value]
    created_at: float
    execution_id: str = ""
    node_id: str = ""


class StoreBatch(msgspec.Struct, omit_defaults=True):
    """Writes the engine commits atomically, before acting on them."""

    execution: ExecutionRecord | None = None
    nodes: list[NodeRecord] = []
    attempts: list[AttemptRecord] = []
    events: list[EventRecord] = []
    cache_puts: list[CacheEntry] = []
    #: ``(execution_id, owner)``: write the batch only if ``owner`` still holds the lease on
    #: the execution, checked inside the batch's transaction (a driver that lost its lease
    #: to another one writes nothing: :class:`~airfoil.core.errors.ConflictError`).
    lease: tuple[str, str] | None = None

    def __bool__(self) -> bool:
        return bool(self.execution or self.nodes or self.attempts or self.events or self.cache_puts)


_encoder = msgspec.json.Encoder()


#: Encode a record (or plain data) as JSON bytes: the encoder's own method (no Python frame a
#: call; the store's binary arrays encode with it too, so the records' JSON has one setting).
encode_json: Callable[[Any], bytes] = _encoder.encode


def decode_json(data: bytes | str, type_: type[Any]) -> Any:
    """Decode JSON into a record type, validating it."""
    return msgspec.json.decode(data, type=type_)
