"""Comparing two executions: inputs, outputs, per-node phases, durations and cache status,
and which tasks' code versions changed (with the source diff of the changed functions where
the code-version manifests are stored).

Pure: records in, a :class:`Comparison` out (the manifests come through a callable), so the
CLI, the server and tests share it. Linear in the number of nodes (two 1,000-node
executions compare in milliseconds).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

import msgspec

from airfoil.core.code_versions import VersionManifest, diff_versions
from airfoil.core.records import ExecutionRecord, NodeRecord, Value, WorkflowSpec

__all__ = [
    "FRAME_FORMATS",
    "ColumnDiff",
    "ColumnStats",
    "Comparison",
    "FrameDiff",
    "FrameStats",
    "NodeDiff",
    "ValueDiff",
    "compare_executions",
    "frame_diff",
    "preview",
    "task_versions",
]

#: The formats a DataFrame value is stored in (Arrow IPC, Parquet).
FRAME_FORMATS = ("arrow", "parquet")


class ValueDiff(msgspec.Struct, frozen=True):
    """One input or output of both runs: previews, and whether the contents are equal."""

    name: str
    a: str
    b: str
    same: bool


class ColumnStats(msgspec.Struct, frozen=True, omit_defaults=True):
    """One column of a stored frame, over the rows read (see :class:`FrameStats`).

    ``nulls`` counts missing values (null, and NaN in a floating column); ``count`` the
    others. Numeric columns (integers, floats, decimals) get ``mean``, ``std`` (sample),
    ``min`` and ``max`` of those (None when there are none, or the value is not finite);
    the others ``distinct``, the number of distinct values (None where Arrow cannot count
    them, as for nested types).
    """

    name: str
    type: str
    count: int
    nulls: int
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    distinct: int | None = None


class FrameStats(msgspec.Struct, frozen=True, omit_defaults=True):
    """Schema and column statistics of a stored frame: ``rows`` in it (-1 when unknown),
    ``rows_read`` the first rows the statistics cover (fewer for a frame past the bound);
    ``error`` says why there are none (an unreadable blob)."""

    rows: int
    rows_read: int
    columns: list[ColumnStats] = msgspec.field(default_factory=list)
    error: str = ""


class ColumnDiff(msgspec.Struct, frozen=True, omit_defaults=True):
    """A column in two frames: ``change`` is ``added`` (only in B), ``removed`` (only in
    A), ``type`` (its type changed) or ``""``."""

    name: str
    change: str = ""
    a: ColumnStats | None = None
    b: ColumnStats | None = None


class FrameDiff(msgspec.Struct, frozen=True, omit_defaults=True):
    """A frame input or output (``kind``) of two runs: each side's statistics (None where
    that run has no frame by this name) and its columns side by side (A's order, then the
    columns only B has)."""

    name: str
    kind: str
    a: FrameStats | None = None
    b: FrameStats | None = None
    columns: list[ColumnDiff] = msgspec.field(default_factory=list)


class NodeDiff(msgspec.Struct, frozen=True, omit_defaults=True):
    """One node in both runs ("" / None where a run has no such node)."""

    node_id: str
    task: str
    phase_a: str = ""
    phase_b: str = ""
    cache_a: str = ""
    cache_b: str = ""
    duration_a: float | None = None
    duration_b: float | None = None
    version_a: str = ""
    version_b: str = ""
    outputs_same: bool | None = None
    source_diff: list[str] = msgspec.field(default_factory=list)

    @property
    def version_changed(self) -> bool:
        return bool(self.version_a and self.version_b and self.version_a != self.version_b)


class Comparison(msgspec.Struct, frozen=True):
    """Two executions side by side."""

    a: str
    b: str
    workflow_a: str
    workflow_b: str
    phase_a: str
    phase_b: str
    duration_a: float | None
    duration_b: float | None
    inputs: list[ValueDiff]
    outputs: list[ValueDiff]
    nodes: list[NodeDiff]
    frames: list[FrameDiff] = msgspec.field(default_factory=list)
    #: the executions' names in their project (``a`` and ``b`` are their ids) and their
    #: domains (a name is unique within its project and domain only)
    name_a: str = ""
    name_b: str = ""
    domain_a: str = ""
    domain_b: str = ""


def preview(value: Value | None, limit: int = 80) -> str:
    """A short text for a value: inline JSON as it is, others by format, size and schema."""
    if value is None:
        return "—"
    if value.inline is not None and value.format == "json":
        try:
            text = json.dumps(json.loads(value.inline), sort_keys=True)
        except ValueError:
            text = value.inline[:limit].decode(errors="replace")
        return text if len(text) <= limit else text[: limit - 1] + "…"
    meta = ", ".join(f"{k}={v}" for k, v in sorted(value.meta.items()))
    text = f"{value.format} {value.size} B" + (f" ({meta})" if meta else "")
    return text if len(text) <= limit * 2 else text[: limit * 2 - 1] + "…"


def task_versions(spec: WorkflowSpec, prefix: str = "") -> dict[str, tuple[str, str]]:
    """``node id -> (task name, code version)`` for every task node, subworkflows included
    (their children as ``parent.child``)."""
    out: dict[str, tuple[str, str]] = {}
    for node in spec.nodes:
        nid = prefix + node.id
        if node.task is not None:
            out[nid] = (node.task.name, node.task.version)
        if node.workflow is not None:
            out.update(task_versions(node.workflow, nid + "."))
    return out


def _values(a: dict[str, Value] | None, b: dict[str, Value] | None) -> list[ValueDiff]:
    a, b = a or {}, b or {}
    return [
        ValueDiff(
            name=name,
            a=preview(a.get(name)),
            b=preview(b.get(name)),
            same=name in a and name in b and a[name].hash == b[name].hash,
        )
        for name in sorted(set(a) | set(b))
    ]


def frame_diff(name: str, kind: str, a: FrameStats | None, b: FrameStats | None) -> FrameDiff:
    """Two frames' statistics with their schema difference."""
    ca = {c.name: c for c in a.columns} if a is not None else {}
    cb = {c.name: c for c in b.columns} if b is not None else {}
    names = list(ca) + [n for n in cb if n not in ca]
    both = a is not None and b is not None and not a.error and not b.error
    columns = []
    for n in names:
        x, y = ca.get(n), cb.get(n)
        change = ""
        if both and x is None:
            change = "added"
        elif both and y is None:
            change = "removed"
        elif x is not None and y is not None and x.type != y.type:
            change = "type"
        columns.append(ColumnDiff(name=n, change=change, a=x, b=y))
    return FrameDiff(name=name, kind=kind, a=a, b=b, columns=columns)


def _frames(
    kind: str,
    a: dict[str, Value] | None,
    b: dict[str, Value] | None,
    stats: Callable[[Value], FrameStats | None],
) -> list[FrameDiff]:
    a, b = a or {}, b or {}
    out = []
    for name in sorted(set(a) | set(b)):
        x, y = a.get(name), b.get(name)
        fx = stats(x) if x is not None and x.format in FRAME_FORMATS else None
        fy = stats(y) if y is not None and y.format in FRAME_FORMATS else None
        if fx is not None or fy is not None:
            out.append(frame_diff(name, kind, fx, fy))
    return out


def _duration(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else max(0.0, end - start)


def _outputs_same(x: NodeRecord | None, y: NodeRecord | None) -> bool | None:
    if x is None or y is None or x.outputs is None or y.outputs is None:
        return None
    return {k: v.hash for k, v in x.outputs.items()} == {k: v.hash for k, v in y.outputs.items()}


def compare_executions(
    a: ExecutionRecord,
    a_nodes: Iterable[NodeRecord],
    b: ExecutionRecord,
    b_nodes: Iterable[NodeRecord],
    manifest: Callable[[str], VersionManifest | None] = lambda _v: None,
    frame_stats: Callable[[Value], FrameStats | None] | None = None,
) -> Comparison:
    """``a`` beside ``b``. A node whose task's code version differs gets the source diff of
    the two versions' manifests when both are stored (cached tasks store them), else a line
    saying the versions differ. With ``frame_stats`` (which reads a stored frame), each
    frame input and output of the runs gets its schema and column statistics side by side
    (a frame with one content hash is read once)."""
    na = {n.node_id: n for n in a_nodes}
    nb = {n.node_id: n for n in b_nodes}
    va, vb = task_versions(a.spec), task_versions(b.spec)
    diffs: dict[tuple[str, str], list[str]] = {}
    nodes = []
    for nid in sorted(set(na) | set(nb), key=_node_key):
        x, y = na.get(nid), nb.get(nid)
        task = (
            (x.task if x else "") or (y.task if y else "") or va.get(nid, vb.get(nid, ("", "")))[0]
        )
        ver_a, ver_b = va.get(nid, ("", ""))[1], vb.get(nid, ("", ""))[1]
        source: list[str] = []
        if ver_a and ver_b and ver_a != ver_b:
            if (ver_a, ver_b) not in diffs:
                old, new = manifest(ver_a), manifest(ver_b)
                diffs[(ver_a, ver_b)] = (
                    diff_versions(old, new)
                    if old is not None and new is not None
                    else [
                        f"code version {ver_a[:12]} -> {ver_b[:12]} (no source manifest stored: "
                        "only cached tasks keep one)"
                    ]
                )
            source = diffs[(ver_a, ver_b)]
        nodes.append(
            NodeDiff(
                node_id=nid,
                task=task,
                phase_a=x.phase if x else "",
                phase_b=y.phase if y else "",
                cache_a=x.cache_status if x else "",
                cache_b=y.cache_status if y else "",
                duration_a=_duration(x.started_at, x.ended_at) if x else None,
                duration_b=_duration(y.started_at, y.ended_at) if y else None,
                version_a=ver_a,
                version_b=ver_b,
                outputs_same=_outputs_same(x, y),
                source_diff=source,
            )
        )
    seen: dict[str, FrameStats | None] = {}

    def stats(v: Value) -> FrameStats | None:
        if frame_stats is None:
            return None
        if v.hash not in seen:
            seen[v.hash] = frame_stats(v)
        return seen[v.hash]

    return Comparison(
        a=a.id,
        b=b.id,
        workflow_a=a.workflow,
        workflow_b=b.workflow,
        phase_a=a.phase,
        phase_b=b.phase,
        duration_a=_duration(a.started_at, a.ended_at),
        duration_b=_duration(b.started_at, b.ended_at),
        inputs=_values(a.inputs, b.inputs),
        outputs=_values(a.outputs, b.outputs),
        nodes=nodes,
        frames=_frames("input", a.inputs, b.inputs, stats)
        + _frames("output", a.outputs, b.outputs, stats),
        name_a=a.display_name,
        name_b=b.display_name,
        domain_a=a.domain,
        domain_b=b.domain,
    )


def _node_key(node_id: str) -> list[tuple[int, str]]:
    """Natural order: n2 before n10, a map's items by index."""
    out: list[tuple[int, str]] = []
    for part in node_id.replace("[", ".").replace("]", "").split("."):
        digits = part.lstrip("n")
        out.append((int(digits), "") if digits.isdigit() else (1 << 62, part))
    return out
