"""Records with every field set, for store tests (the conformance suites and backends' own
tests): a round trip that loses any field shows up as a difference."""

from __future__ import annotations

from airfoil.core.phases import ErrorKind, NodeKind
from airfoil.core.records import (
    AttemptRecord,
    Binding,
    CacheEntry,
    CacheKeyParts,
    CachePolicy,
    ErrorInfo,
    EventRecord,
    ExecutionRecord,
    Interface,
    NodeRecord,
    NodeSpec,
    Param,
    TaskSpec,
    TypeSpec,
    Value,
    WorkflowSpec,
)
from airfoil.core.resources import ResourceSpec

__all__ = [
    "make_attempt",
    "make_cache_entry",
    "make_event",
    "make_execution",
    "make_node",
    "make_workflow_spec",
]

# --- records with every field set -------------------------------------------------------


def _value(tag: str) -> Value:
    return Value(
        hash=f"{tag:0>64}"[-64:],
        format="json",
        inline=b'{"x": 1}\x00\xff',
        uri=f"file:///blobs/{tag}",
        size=42,
        meta={"rows": "3", "col\u00e9": "\u00fc\U0001f600"},
    )


def _interface() -> Interface:
    list_int = TypeSpec(kind="list", args=(TypeSpec(kind="int"),))
    color = TypeSpec(kind="enum", name="mod.Color", values=("RED", "GREEN"))
    point = TypeSpec(kind="dataclass", name="mod.Point", fields=(("x", TypeSpec(kind="float")),))
    return Interface(
        inputs=(
            Param(name="x", type=list_int, description="xs", default=_value("d"), has_default=True),
            Param(name="c", type=TypeSpec(kind="union", args=(color, TypeSpec(kind="none")))),
        ),
        outputs=(
            Param(name="p", type=point),
            Param(name="t", type=TypeSpec(kind="tuple", args=(color,), variadic=True)),
        ),
        output_style="named",
        output_tuple_name="Out",
    )


def _task_spec() -> TaskSpec:
    return TaskSpec(
        name="mod.train",
        version="v1",
        interface=_interface(),
        module="mod",
        qualname="train",
        requests=ResourceSpec(cpu=1.5, mem=2**30, gpu=1),
        limits=ResourceSpec(cpu=2.0, mem=2**31, gpu=1),
        retries=2,
        system_retries=1,
        timeout_s=30.5,
        cache=CachePolicy(
            enabled=True, version="c1", serialize=True, ignore_inputs=("seed",), scope="team"
        ),
        interruptible=True,
        environment={"A": "b"},
        secret_requests=("token",),
        docs="Train.",
        task_type="container",
        is_async=True,
        config={"image": "python:3.11", "args": ["-c", "print(1)"], "gpus": 1},
        custom_resources={"fast_disk": 1.0, "accelerator_type:A100": 0.001},
        accelerator="A100",
    )


def make_workflow_spec(name: str = "mod.wf") -> WorkflowSpec:
    """A workflow spec using every field, with a task node and a subworkflow node."""
    literal = Binding(kind="literal", value=_value("lit"))
    inner = WorkflowSpec(
        name="mod.inner",
        version="v1",
        interface=Interface(),
        nodes=(),
        outputs={},
    )
    nodes = (
        NodeSpec(
            id="n0",
            kind=NodeKind.TASK,
            inputs={"x": Binding(kind="input", name="x"), "c": literal},
            task=_task_spec(),
            label="train",
            location="wf.py:12",
        ),
        NodeSpec(
            id="n1",
            kind=NodeKind.WORKFLOW,
            inputs={
                "d": Binding(
                    kind="dict",
                    items=(Binding(kind="output", node="n0", name="p"), literal),
                    keys=("a", "b"),
                )
            },
            workflow=inner,
            upstream=("n0",),
        ),
    )
    return WorkflowSpec(
        name=name,
        version="v7",
        interface=_interface(),
        nodes=nodes,
        outputs={"p": Binding(kind="output", node="n0", name="p")},
        module="mod",
        qualname="wf",
        docs="A workflow.",
        failure_policy="continue",
        on_failure=NodeSpec(id="on_failure", kind=NodeKind.TASK, inputs={}, task=_task_spec()),
    )


_ERROR = ErrorInfo(
    kind=ErrorKind.USER, type="builtins.ValueError", message="bad \u2603", traceback="tb"
)


def make_execution(
    execution_id: str = "e1",
    *,
    created_at: float = 1_700_000_000.123456,
    project: str = "proj",
    domain: str = "dev",
    workflow: str = "mod.wf",
    phase: str = "running",
    name: str | None = None,
    idempotency_key: str | None = None,
) -> ExecutionRecord:
    """An execution record with every field set (its name: ``run-<id>`` unless given; its
    idempotency key ``key-<id>`` unless given)."""
    return ExecutionRecord(
        id=execution_id,
        workflow=workflow,
        version="v7",
        phase=phase,
        spec=make_workflow_spec(workflow),
        inputs={"x": _value("in")},
        created_at=created_at,
        project=project,
        domain=domain,
        outputs={"p": _value("out")},
        error=_ERROR,
        started_at=created_at + 0.1,
        ended_at=created_at + 0.30000000000000004,
        executor="ray",
        code_root="/code",
        labels={"team": "ml", "\u00e9": ""},
        schema_version=1,
        name=f"run-{execution_id}" if name is None else name,
        idempotency_key=f"key-{execution_id}" if idempotency_key is None else idempotency_key,
        request_digest="d1g3st",
    )


def make_node(execution_id: str = "e1", node_id: str = "n0", phase: str = "running") -> NodeRecord:
    """A node record with every field set."""
    return NodeRecord(
        execution_id=execution_id,
        node_id=node_id,
        phase=phase,
        kind=NodeKind.WORKFLOW,
        task="mod.train",
        parent="n-parent",
        attempts=2,
        user_failures=1,
        system_failures=1,
        cache_status="miss",
        cache_reason="input x changed",
        cache_key="k" * 64,
        cache_key_parts=CacheKeyParts("mod.train", "c1", "ih", {"x": "h1"}, "project:p"),
        inputs={"x": _value("nin")},
        outputs={"p": _value("nout")},
        error=_ERROR,
        queued_at=1.5,
        started_at=2.5,
        ended_at=3.5,
        retry_at=4.5,
        branch_taken=1,
        map_counts={"succeeded": 3, "failed": 1},
        dynamic_spec=make_workflow_spec("mod.dynamic"),
    )


def make_attempt(
    execution_id: str = "e1", node_id: str = "n0", attempt: int = 1, phase: str = "failed"
) -> AttemptRecord:
    """An attempt record with every field set."""
    return AttemptRecord(
        execution_id=execution_id,
        node_id=node_id,
        attempt=attempt,
        phase=phase,
        started_at=10.25,
        ended_at=11.75,
        error=ErrorInfo(kind=ErrorKind.SYSTEM, type="WorkerLostError", message="lost"),
        worker="host:123",
        log_uri="file:///logs/a.log",
        outputs={"p": _value("item")},
    )


def make_event(
    execution_id: str = "e1", seq: int = 1, cause: str = "started", cause_id: int = 99
) -> EventRecord:
    """An event record with every field set (the store does not check that ``cause_id``
    names an entry that exists)."""
    return EventRecord(
        execution_id=execution_id,
        seq=seq,
        at=100.0 + seq,
        kind="attempt",
        to_phase="running",
        cause=cause,
        node_id="n0",
        attempt=1,
        from_phase="queued",
        cause_id=cause_id,
    )


def make_cache_entry(
    key: str = "k1", task: str = "mod.train", created_at: float = 5.0
) -> CacheEntry:
    """A cache entry with every field set."""
    return CacheEntry(
        key=key,
        parts=CacheKeyParts(
            task=task,
            cache_version="c1",
            interface_hash="ih",
            input_hashes={"x": "h"},
            scope="project:p",
        ),
        outputs={"p": _value(key)},
        created_at=created_at,
        execution_id="e1",
        node_id="n0",
    )


# --- cross-process contention -----------------------------------------------------------
