"""How executions look in the terminal (Rich) and as JSON."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from rich.text import Text

from airfoil.cli._table import Table
from airfoil.core.phases import GateKind
from airfoil.core.records import ExecutionRecord, NodeRecord

if TYPE_CHECKING:
    from airfoil.local import LocalRuntime

__all__ = [
    "execution_json",
    "gates_waiting",
    "node_sort_key",
    "node_table",
    "outputs_json",
    "shown_nodes",
    "sort_nodes",
    "task_types",
]

PHASE_STYLE = {
    "pending": "dim",
    "queued": "cyan",
    "running": "bold blue",
    "retrying": "yellow",
    "succeeded": "green",
    "failed": "bold red",
    "skipped": "dim",
    "aborted": "magenta",
    "interrupted": "bold yellow",
}


def is_interrupted(record: ExecutionRecord, meta: Any, now: float | None = None) -> bool:
    """Whether a local execution that has not ended is driven by no one: its driver's lease
    was released (Ctrl-C) or has lapsed (the process was killed). ``executions resume``
    carries it on (a server's queued execution without a lease waits for a slot)."""
    from airfoil.core.interruption import is_interrupted as undriven
    from airfoil.runtime._packages import PACKAGE_PREFIX

    if record.phase not in ("queued", "running"):
        return False
    return undriven(
        record,
        meta.get_lease(record.id),
        time.time() if now is None else now,
        queued_waits_for_claim=record.code_root.startswith(PACKAGE_PREFIX),
    )


def shown_nodes(record: ExecutionRecord, nodes: list[NodeRecord], meta: Any) -> list[NodeRecord]:
    """The nodes as a user sees them: unfinished ones of an interrupted execution read
    ``interrupted`` (the stored records are not changed: a resume may yet carry them on)."""
    from airfoil.core.interruption import shown_nodes as shown

    return shown(nodes, is_interrupted(record, meta))


def shown_phase(record: ExecutionRecord, meta: Any) -> str:
    """The phase a user sees: ``interrupted`` for a local execution no one drives."""
    return "interrupted" if is_interrupted(record, meta) else record.phase


def _duration(rec: NodeRecord | ExecutionRecord) -> float | None:
    start = getattr(rec, "started_at", None) or getattr(rec, "queued_at", None)
    end = rec.ended_at
    if start is None or (end is None and rec.phase == "interrupted"):
        return None  # an interrupted node's clock stopped when its driver did, unknown when
    return max(0.0, float((end or time.time()) - start))


def outputs_json(record: ExecutionRecord, runtime: LocalRuntime) -> dict[str, Any]:
    """The execution's outputs as plain JSON, by output name."""
    from airfoil.types import ValueContext

    ctx = ValueContext(blobs=runtime.blobs)
    specs = {p.name: p.type for p in record.spec.interface.outputs}
    result: dict[str, Any] = {}
    for name, value in (record.outputs or {}).items():
        try:
            result[name] = runtime.types.to_jsonable(value, specs[name], ctx)
        except Exception as exc:  # a missing blob must not hide the rest of the result
            result[name] = {"error": f"{type(exc).__name__}: {exc}", "hash": value.hash}
    return result


def node_json(
    n: NodeRecord,
    types: Mapping[str, str] | None = None,
    named: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """A node as ``--json`` prints it (``named``: rewrites the executions a cache reason
    names as the project names them, see :class:`~airfoil.store.naming.ExecutionNames`)."""
    d = _duration(n)
    return {
        "id": n.node_id,
        "task": n.task,
        "kind": n.kind,
        "task_type": (types or {}).get(n.node_id, "python" if n.kind == "task" else ""),
        "phase": n.phase,
        "attempts": n.attempts,
        "cache": n.cache_status,
        "cache_reason": named(n.cache_reason) if named else n.cache_reason,
        "detail": _detail(n),
        "duration_s": round(d, 6) if d is not None else None,
        "error": (
            {"kind": n.error.kind, "type": n.error.type, "message": n.error.message}
            if n.error
            else None
        ),
    }


def execution_json(
    record: ExecutionRecord, nodes: list[NodeRecord], runtime: LocalRuntime
) -> dict[str, Any]:
    """The one JSON object ``run --json`` and ``executions show --json`` print.

    ``interrupted`` is true for an execution that has not ended but that no process drives
    any more (resume it with ``airfoil executions resume ID``); its unfinished nodes then
    show the phase ``interrupted``."""
    from airfoil.core.interruption import shown_nodes as shown
    from airfoil.store.naming import ExecutionNames

    names = ExecutionNames(runtime.meta, record.project)
    names.remember(record.id, record.display_name, record.domain)
    d = _duration(record)
    interrupted = is_interrupted(record, runtime.meta)
    types = task_types(record.spec)
    return {
        "execution_id": record.id,
        "name": record.display_name,
        "project": record.project,
        "domain": record.domain,
        "workflow": record.workflow,
        "version": record.version,
        "phase": record.phase,
        "interrupted": interrupted,
        "created_at": record.created_at,
        "duration_s": round(d, 6) if d is not None else None,
        "outputs": outputs_json(record, runtime) if record.outputs else {},
        "error": (
            {
                "kind": record.error.kind,
                "type": record.error.type,
                "message": record.error.message,
                "traceback": record.error.traceback,
            }
            if record.error
            else None
        ),
        "nodes": [node_json(n, types, names.text) for n in shown(nodes, interrupted)],
    }


def _detail(n: NodeRecord) -> str:
    """Map counts, the branch a conditional took."""
    if n.kind == "map" and n.map_counts:
        total = sum(n.map_counts.values())
        parts = ", ".join(f"{v} {k}" for k, v in sorted(n.map_counts.items()))
        return f"{total} items: {parts}"
    if n.kind == "branch" and n.branch_taken >= 0:
        return f"took case {n.branch_taken}"
    return ""


def task_types(spec: Any) -> dict[str, str]:
    """Node id -> task type of a workflow spec's task nodes (``python`` left out)."""
    from airfoil.engine.graph import flatten

    found: dict[str, str] = {}
    for node_id, flat in flatten(spec).items():
        task_type = getattr(getattr(flat, "task", None), "task_type", "") or ""
        if task_type and task_type != "python":
            found[node_id] = task_type
    return found


def node_table(
    nodes: list[NodeRecord],
    title: str = "",
    caption: str = "",
    types: Mapping[str, str] | None = None,
) -> Table:
    """A table of nodes: phase, attempts, duration, cache, and map/branch details; a task of
    another type than ``python`` (``types``: node id -> type) shows it after its name."""
    table = Table(
        title=Text(title) if title else None,  # plain text: ids and errors hold [brackets]
        title_justify="left",
        expand=False,
        caption=Text(caption, style="bold yellow") if caption else None,
        caption_justify="left",
    )
    table.add_column("node", no_wrap=True)
    table.add_column("task")
    table.add_column("phase")
    table.add_column("attempts", justify="right")
    table.add_column("duration", justify="right")
    table.add_column("cache")
    table.add_column("detail")
    for n in nodes:
        d = _duration(n)
        indent = "  " * n.node_id.count(".")
        cache = n.cache_status if n.cache_status != "disabled" else ""
        task = n.task.rsplit(".", 1)[-1] if n.kind in ("task", "map") else n.task
        if types and n.node_id in types:
            task = f"{task} ({types[n.node_id]})"
        table.add_row(
            indent + n.node_id,
            task,
            Text(n.phase, style=PHASE_STYLE.get(n.phase, "")),
            str(n.attempts) if n.kind in ("task", "map") else "",  # a map: tries over items
            f"{d:.2f}s" if d is not None else "",
            cache,
            _detail(n),
        )
    return table


_NATURAL = re.compile(r"(\d+)")


def node_sort_key(node_id: str) -> list[tuple[int, str, int]]:
    """Natural order of node ids: ``n2`` before ``n10``, ``n1[2]`` before ``n1[13]``,
    a subworkflow's children right after it."""
    key = []
    for part in re.split(r"[.\[]", node_id):
        for i, piece in enumerate(_NATURAL.split(part)):
            key.append((1, "", int(piece)) if i % 2 else (0, piece, 0))
    return key


def sort_nodes(nodes: list[NodeRecord]) -> list[NodeRecord]:
    return sorted(nodes, key=lambda n: node_sort_key(n.node_id))


def gates_waiting(state: Any, records: dict[str, Any], home: str) -> list[str]:
    """One line per gate waiting for a signal, with the ``airfoil signal`` command; for a
    run outside ``home`` (the caller's ``AIRFOIL_DOMAIN``, where the command looks a name up
    first) the command names the run's domain, so it answers this run and never a run of
    the same name in ``home``."""
    ex = state.execution
    where = f" --domain {ex.domain}" if ex.domain and ex.domain != home else ""
    lines = []
    for nid, fn in list(state.graph.items()):
        gate = fn.gate
        rec = records.get(nid)
        if gate is None or gate.kind == GateKind.SLEEP or rec is None or rec.phase != "running":
            continue
        value = "true|false" if gate.kind == GateKind.APPROVE else "VALUE"
        lines.append(
            f"{nid} waits for {gate.name!r}: airfoil signal {ex.display_name} "
            f"{gate.name} {value}{where}"
        )
    return lines
