"""Comparing two executions (issue 15): values by content, nodes in natural order, code
version changes with the source diff, and two 1,000-node runs in well under a second."""

from __future__ import annotations

import time

import msgspec
import pytest

from airfoil.core.code_versions import ManifestComponent, VersionManifest
from airfoil.core.compare import compare_executions, preview
from airfoil.core.records import (
    ExecutionRecord,
    Interface,
    NodeRecord,
    NodeSpec,
    TaskSpec,
    Value,
    WorkflowSpec,
)

pytestmark = pytest.mark.unit


def _json(x: object) -> Value:
    data = msgspec.json.encode(x)
    return Value(hash=str(hash(data)), format="json", inline=data, size=len(data))


def _spec(n: int, version_of: dict[int, str]) -> WorkflowSpec:
    nodes = tuple(
        NodeSpec(
            id=f"n{i}",
            kind="task",
            inputs={},
            task=TaskSpec(
                name=f"mod.t{i % 3}",
                version=version_of.get(i, "v1"),
                interface=Interface(),
                module="mod",
                qualname=f"t{i % 3}",
            ),
        )
        for i in range(n)
    )
    return WorkflowSpec(name="mod.wf", version="w", interface=Interface(), nodes=nodes, outputs={})


def _run(
    eid: str, n: int, x: int, version_of: dict[int, str], slow: int = -1
) -> tuple[ExecutionRecord, list[NodeRecord]]:
    rec = ExecutionRecord(
        id=eid,
        workflow="mod.wf",
        version="w",
        phase="succeeded",
        spec=_spec(n, version_of),
        inputs={"x": _json(x), "name": _json("same")},
        created_at=0.0,
        outputs={"o0": _json(x * 2)},
        started_at=0.0,
        ended_at=10.0,
    )
    nodes = [
        NodeRecord(
            execution_id=eid,
            node_id=f"n{i}",
            phase="succeeded",
            task=f"mod.t{i % 3}",
            cache_status="hit" if i == 5 and eid == "b" else "miss",
            outputs={"o0": _json(i if i != 7 else i + x)},
            started_at=1.0,
            ended_at=2.0 if i != slow else 9.0,
        )
        for i in range(n)
    ]
    return rec, nodes


def test_two_runs_side_by_side() -> None:
    a, na = _run("a", 12, 1, {})
    b, nb = _run("b", 12, 2, {4: "v2"}, slow=3)
    manifests = {
        "v1": VersionManifest(
            "v1",
            "mod.py:t1",
            components={"mod.t1": ManifestComponent("d1", "def t1():\n    return 1\n")},
        ),
        "v2": VersionManifest(
            "v2",
            "mod.py:t1",
            components={"mod.t1": ManifestComponent("d2", "def t1():\n    return 2\n")},
        ),
    }
    c = compare_executions(a, na, b, nb, manifests.get)
    assert [(v.name, v.a, v.b, v.same) for v in c.inputs] == [
        ("name", '"same"', '"same"', True),
        ("x", "1", "2", False),
    ]
    assert [(v.name, v.same) for v in c.outputs] == [("o0", False)]
    assert [n.node_id for n in c.nodes][:11] == [f"n{i}" for i in range(11)]  # n10 after n9
    by = {n.node_id: n for n in c.nodes}
    assert by["n4"].version_changed and not by["n3"].version_changed
    assert "~ mod.t1 changed:" in by["n4"].source_diff
    assert (
        "    -    return 1" in by["n4"].source_diff and "    +    return 2" in by["n4"].source_diff
    )
    assert (by["n5"].cache_a, by["n5"].cache_b) == ("miss", "hit")
    assert (by["n3"].duration_a, by["n3"].duration_b) == (1.0, 8.0)
    assert by["n7"].outputs_same is False and by["n6"].outputs_same is True
    # no manifests stored: the change is still named
    bare = compare_executions(a, na, b, nb)
    assert "no source manifest stored" in {n.node_id: n for n in bare.nodes}["n4"].source_diff[0]


def test_a_node_only_one_run_has() -> None:
    a, na = _run("a", 3, 1, {})
    b, nb = _run("b", 4, 1, {})
    last = compare_executions(a, na, b, nb).nodes[-1]
    assert (last.node_id, last.phase_a, last.phase_b, last.outputs_same) == (
        "n3",
        "",
        "succeeded",
        None,
    )


def test_previews_name_offloaded_values_by_format_and_schema() -> None:
    frame = Value(hash="h", format="parquet", uri="file:///x", size=2048, meta={"rows": "10"})
    assert preview(frame) == "parquet 2048 B (rows=10)"
    assert preview(None) == "—"
    assert preview(_json("x" * 200)).endswith("…")


def test_two_thousand_node_runs_compare_fast() -> None:
    a, na = _run("a", 1000, 1, {})
    b, nb = _run("b", 1000, 2, {i: "v2" for i in range(0, 1000, 7)})
    t0 = time.perf_counter()
    c = compare_executions(a, na, b, nb)
    took = time.perf_counter() - t0
    assert len(c.nodes) == 1000 and sum(n.version_changed for n in c.nodes) == 143
    assert took < 1.0, f"compare took {took:.3f}s"
