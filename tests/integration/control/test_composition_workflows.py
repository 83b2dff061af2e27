"""Workflows called inside running tasks (dynamic composition, as flytekit's @dynamic or
Prefect's subflows): the call is a child node of the calling node, in the same execution,
and the workflow's nodes run as that child's children.

Before, such a call started a separate top-level execution: not linked to the caller, not
shown under it, not aborted with it, not in its lineage.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from _killresume import kill_and_resume

import airfoil as af
from airfoil.core.records import NodeRecord
from airfoil.local import get_runtime

pytestmark = pytest.mark.integration


class TooBigError(ValueError):
    pass


@af.task
def double(x: int) -> int:
    return 2 * x


@af.task
def check(x: int) -> int:
    if x > 100:
        raise TooBigError(f"{x} is too big")
    return x


@af.workflow
def quadruple(x: int) -> int:
    return double(x=double(x=x))


@af.workflow
def checked(x: int) -> int:
    return double(x=check(x=x))


@af.task
def plus_quadruple(x: int) -> int:
    return quadruple(x=x) + 1


def _latest() -> tuple[str, str, dict[str, NodeRecord]]:
    rt = get_runtime()
    record = rt.meta.list_executions(limit=1)[0]
    return record.id, record.phase, {n.node_id: n for n in rt.meta.get_nodes(record.id)}


def test_a_called_workflow_is_a_child_of_the_calling_node() -> None:
    rt = get_runtime()
    before = len(rt.meta.list_executions(limit=1000))
    assert plus_quadruple(x=3) == 13
    assert len(rt.meta.list_executions(limit=1000)) == before + 1, "one execution, no second"
    _, phase, nodes = _latest()
    assert phase == "succeeded"
    child = next(n for n in nodes.values() if n.kind == "child")
    assert child.parent == "n0" and child.task.endswith("quadruple")
    assert child.phase == "succeeded"
    assert child.dynamic_spec is not None and child.dynamic_spec.name == child.task
    assert child.inputs is not None and child.inputs["x"].inline is not None
    assert child.outputs is not None and "o0" in child.outputs
    inner = sorted(nid for nid, n in nodes.items() if n.parent == child.node_id)
    assert inner == [f"{child.node_id}.n0", f"{child.node_id}.n1"]
    assert all(nodes[nid].phase == "succeeded" for nid in inner)
    assert all(nodes[nid].task.endswith(".double") for nid in inner)


@af.task
def catches(x: int) -> int:
    try:
        return checked(x=x)
    except TooBigError:  # the failing node's exception, same type
        return -1


def test_a_failure_inside_a_called_workflow_goes_to_the_caller() -> None:
    assert catches(x=500) == -1
    _, phase, nodes = _latest()
    assert phase == "succeeded", "a caught failure of a called workflow does not fail the run"
    child = next(n for n in nodes.values() if n.kind == "child")
    assert child.phase == "failed"
    assert child.error is not None and child.error.type.endswith("TooBigError")
    inner = {nid.rsplit(".", 1)[1]: n for nid, n in nodes.items() if n.parent == child.node_id}
    assert inner["n0"].phase == "failed"
    assert inner["n1"].phase == "aborted", "the rest of the called workflow stops"


@af.task
def lets_it_raise(x: int) -> int:
    return checked(x=x)


def test_an_uncaught_failure_inside_a_called_workflow_fails_the_caller() -> None:
    with pytest.raises(af.ExecutionFailedError, match="is too big") as info:
        lets_it_raise(x=500)
    assert info.value.error_type.endswith("TooBigError")
    _, phase, nodes = _latest()
    assert phase == "failed"
    assert nodes["n0"].phase == "failed"


@af.task
def gathers(n: int) -> list[int]:
    return list(af.gather(*(quadruple(x=i) for i in range(n))))


def test_gathered_workflow_calls_run_as_children() -> None:
    assert gathers(n=3) == [0, 4, 8]
    _, _, nodes = _latest()
    children = [n for n in nodes.values() if n.kind == "child"]
    assert len(children) == 3 and all(n.parent == "n0" for n in children)


@af.task
def inner_caller(x: int) -> int:
    return quadruple(x=x) - 1


@af.workflow
def calls_a_caller(x: int) -> int:
    return inner_caller(x=double(x=x))


@af.task
def nests(x: int) -> int:
    return calls_a_caller(x=x)


def test_nested_calls_nest_their_nodes() -> None:
    assert nests(x=1) == 7
    _, _, nodes = _latest()
    outer = next(n for n in nodes.values() if n.kind == "child" and n.parent == "n0")
    # the workflow's task node inner_caller called quadruple: a child of that node
    caller = f"{outer.node_id}.n1"
    assert nodes[caller].task.endswith("inner_caller")
    nested = [n for n in nodes.values() if n.kind == "child" and n.parent == caller]
    assert len(nested) == 1 and nested[0].task.endswith("quadruple")
    assert nested[0].phase == "succeeded"


CACHED_RUNS: list[int] = []


@af.task(cache=True, cache_version="1")
def cached_step(x: int) -> int:
    CACHED_RUNS.append(x)
    return x + 1


@af.workflow
def cached_wf(x: int) -> int:
    return cached_step(x=x)


@af.task
def calls_cached(x: int) -> int:
    return cached_wf(x=x)


def test_a_called_workflows_tasks_are_cached_as_usual() -> None:
    CACHED_RUNS.clear()
    x = 7_000_001
    assert calls_cached(x=x) == x + 1
    assert calls_cached(x=x) == x + 1
    assert [x] == CACHED_RUNS, "the second run's called workflow hit the cache"
    _, _, nodes = _latest()
    step = next(n for n in nodes.values() if n.task.endswith("cached_step"))
    assert step.cache_status == "hit"


RETRY_TRIES: dict[str, int] = {}
COUNTED: list[int] = []


@af.task
def counted(x: int) -> int:
    COUNTED.append(x)
    return x


@af.workflow
def counted_wf(x: int) -> int:
    return counted(x=x)


@af.task(retries=1)
def fails_after_calling(x: int) -> int:
    y = counted_wf(x=x)
    RETRY_TRIES["n"] = RETRY_TRIES.get("n", 0) + 1
    if RETRY_TRIES["n"] == 1:
        raise RuntimeError("the caller's first try fails after its call")
    return y


def test_a_retried_caller_reuses_its_finished_called_workflow() -> None:
    RETRY_TRIES.clear()
    COUNTED.clear()
    assert fails_after_calling(x=5) == 5
    assert COUNTED == [5], "the called workflow ran once over the caller's two attempts"
    _, _, nodes = _latest()
    assert nodes["n0"].attempts == 2
    children = [n for n in nodes.values() if n.kind == "child"]
    assert len(children) == 1 and children[0].phase == "succeeded"


FLAKY_TRIES: dict[int, int] = {}


@af.task
def fails_once(x: int) -> int:
    FLAKY_TRIES[x] = FLAKY_TRIES.get(x, 0) + 1
    if FLAKY_TRIES[x] == 1:
        raise RuntimeError("the first run fails")
    return x


@af.workflow
def half_flaky(x: int) -> int:
    return fails_once(x=counted(x=x))


@af.task(retries=1)
def retries_its_call(x: int) -> int:
    return half_flaky(x=x)


def test_a_failed_called_workflow_runs_again_for_a_retried_caller() -> None:
    """The caller fails with its called workflow's error; its retry calls the workflow
    again: the nodes that had succeeded are not run again, the failed one is."""
    FLAKY_TRIES.clear()
    COUNTED.clear()
    assert retries_its_call(x=9) == 9
    assert COUNTED == [9] and FLAKY_TRIES == {9: 2}
    _, phase, nodes = _latest()
    assert phase == "succeeded"
    child = next(n for n in nodes.values() if n.kind == "child")
    assert child.phase == "succeeded"
    flaky = nodes[f"{child.node_id}.n1"]
    assert flaky.phase == "succeeded" and flaky.attempts == 2


def test_a_workflow_called_with_a_bad_input_raises_in_the_caller() -> None:
    @af.task
    def bad_call(x: int) -> int:
        return quadruple(x="not a number")  # type: ignore[arg-type]

    with pytest.raises(af.ExecutionFailedError, match="quadruple") as info:
        bad_call(x=1)
    assert "InvalidInput" in info.value.error_type or "TypeError" in info.value.error_type
    _, _, nodes = _latest()
    assert not [n for n in nodes.values() if n.kind == "child"], "nothing half-started"


SIDE: list[int] = []


@af.task
def records(x: int) -> int:
    SIDE.append(x)
    return x


@af.workflow(failure_policy="finish_what_can_run")
def lenient(x: int) -> int:
    a = check(x=x)
    records(x=x)  # independent of the failing node: runs anyway
    return double(x=a)


@af.task
def calls_lenient(x: int) -> int:
    try:
        return lenient(x=x)
    except TooBigError:
        return -len(SIDE)


def test_a_called_workflow_keeps_its_failure_policy() -> None:
    SIDE.clear()
    assert calls_lenient(x=500) == -1, "its independent node ran before the call failed"
    _, phase, nodes = _latest()
    assert phase == "succeeded"
    child = next(n for n in nodes.values() if n.kind == "child")
    assert child.phase == "failed"
    under = [n for n in nodes.values() if n.parent == child.node_id]
    inner = {n.node_id.rsplit(".", 1)[1]: n.phase for n in under}
    assert inner == {"n0": "failed", "n1": "succeeded", "n2": "skipped"}


SCRIPT = textwrap.dedent(
    """
    import os, time
    import airfoil as af

    LOG = os.environ["CALLS_LOG"]

    @af.task
    def step(i: int) -> int:
        with open(LOG, "a") as fh:
            fh.write(f"{i}\\n")
        if i == 2 and not os.path.exists(LOG + ".resumed"):
            time.sleep(60)
        return i * 10

    @af.task
    def then(y: int) -> int:
        i = y // 10 + 1
        with open(LOG, "a") as fh:
            fh.write(f"{i}\\n")
        return i * 10

    @af.workflow
    def steps(i: int) -> int:
        return then(y=step(i=i))

    @af.task
    def caller(n: int) -> int:
        return sum(steps(i=i) for i in range(0, n, 2))
    """
)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sigkill_then_resume_does_not_rerun_finished_nodes_of_a_called_workflow(
    tmp_path: Path,
) -> None:
    # steps(0): step(0), then 1; steps(2): step(2) (killed while it runs), then 3
    run = kill_and_resume(
        tmp_path, SCRIPT, "caller", args=("--n", "4"), kill_when=lambda calls: "2" in calls
    )
    assert run.data["outputs"] == {"o0": 10 + 30}
    assert run.before == ["0", "1", "2"] and run.after == ["2", "3"]
    children = [n for n in run.data["nodes"] if n["kind"] == "child"]
    assert len(children) == 2 and all(n["phase"] == "succeeded" for n in children)
