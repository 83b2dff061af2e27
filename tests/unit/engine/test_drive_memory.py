"""What a drive leaves for the garbage collector, and the graphs drives share.

A server's engine drives thousands of executions: a finished drive's state (its node
records, graph and spec) must be freed when the drive returns, not kept in a reference
cycle until the collector's next full collection; node records are not tracked by the
collector at all. Drives of one workflow version share its flattened graph
(``GraphCache``), so growing one execution's graph (a dynamic node's children) must never
change another's.
"""

from __future__ import annotations

import gc
import weakref

import pytest

import airfoil as af
from airfoil.core.records import NodeRecord
from airfoil.engine.graph import GraphCache, add_subgraph
from airfoil.engine.state import RunState
from airfoil.local import LocalRuntime, spec_of
from airfoil.types import ValueContext

pytestmark = pytest.mark.unit


@af.task
def inc(x: int) -> int:
    return x + 1


@af.task
def total(xs: list[int]) -> int:
    return sum(xs)


@af.workflow
def fan(x: int = 0) -> int:
    return total(xs=[inc(x=i) for i in range(5)])


@af.dynamic
def grow(n: int) -> int:
    return total(xs=[inc(x=i) for i in range(n)])


@af.workflow
def dyn(n: int = 3) -> int:
    return grow(n=n)


def test_a_finished_drive_frees_its_state_without_the_collector(rt: LocalRuntime) -> None:
    states: list[weakref.ref[RunState]] = []

    def seen(state: RunState) -> None:
        if not states or states[-1]() is not state:
            states.append(weakref.ref(state))

    engine = rt.engine(on_change=seen)
    x = {"x": rt.types.to_value(0, int, ValueContext(blobs=rt.blobs))}
    engine.drive(engine.launch(spec_of(fan), x).id)  # warm: imports, first-use caches
    gc.collect()
    states.clear()
    gc.disable()
    try:
        record = engine.drive(engine.launch(spec_of(fan), x).id)
        assert record.phase == "succeeded"
        assert states, "the drive reported its state"
        assert [ref() for ref in states] == [None] * len(states)
    finally:
        gc.enable()


def test_node_records_are_not_tracked_by_the_collector() -> None:
    rec = NodeRecord(execution_id="e", node_id="n", phase="pending", map_counts={"a": 1})
    assert not gc.is_tracked(rec)


def test_drives_of_a_version_share_its_graph_and_growing_one_leaves_the_others(
    rt: LocalRuntime,
) -> None:
    spec = spec_of(fan)
    cache = GraphCache()
    first, second = cache.graph(spec), cache.graph(spec)
    assert first is not second and first.keys() == second.keys()
    assert all(first[nid] is second[nid] for nid in first)  # the nodes are shared
    node = next(iter(first))
    before = (set(second[node].upstream), list(second[node].children))
    new = add_subgraph(first, node, spec_of(fan))
    assert new and all(nid.startswith(node + ".") for nid in new)
    assert first[node].children and set(first[node].upstream) > before[0]
    # The other graph (and the cache's) did not change.
    assert (set(second[node].upstream), list(second[node].children)) == before
    assert cache.graph(spec)[node] is second[node]
    assert not set(new) & set(cache.graph(spec))


def test_an_equal_spec_decoded_anew_finds_the_graph_and_a_changed_one_does_not() -> None:
    import msgspec

    from airfoil.core.records import WorkflowSpec

    spec = spec_of(fan)
    cache = GraphCache()
    graph = cache.graph(spec)
    again = msgspec.json.decode(msgspec.json.encode(spec), type=WorkflowSpec)
    assert again is not spec
    assert all(a is b for a, b in zip(cache.graph(again).values(), graph.values(), strict=True))
    changed = msgspec.structs.replace(spec, nodes=spec.nodes[:-1])  # same name and version
    assert set(cache.graph(changed)) == set(graph) - {spec.nodes[-1].id}


def test_dynamic_children_of_two_executions_stay_apart(rt: LocalRuntime) -> None:
    engine = rt.engine()
    ctx = ValueContext(blobs=rt.blobs)
    one = engine.drive(engine.launch(spec_of(dyn), {"n": rt.types.to_value(2, int, ctx)}).id)
    two = engine.drive(engine.launch(spec_of(dyn), {"n": rt.types.to_value(4, int, ctx)}).id)
    assert one.phase == two.phase == "succeeded"
    assert rt.types.to_python(one.outputs["o0"], int, ctx) == 1 + 2  # type: ignore[index]
    assert rt.types.to_python(two.outputs["o0"], int, ctx) == 1 + 2 + 3 + 4  # type: ignore[index]
    kids = [n.node_id for n in rt.meta.get_nodes(two.id) if n.parent]
    assert len([k for k in kids if k.count(".") == 1]) == 5  # its own 4 + 1, not the first's
