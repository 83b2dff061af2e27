"""Python-native composition: tasks calling tasks at run time, as durable child nodes."""

from __future__ import annotations

import asyncio
import textwrap
import time
from pathlib import Path

import pytest
from _killresume import kill_and_resume

import airfoil as af
from airfoil.local import get_runtime

pytestmark = pytest.mark.integration


class NotANumberError(ValueError):
    pass


@af.task
def parse(text: str) -> int:
    if not text.isdigit():
        raise NotANumberError(f"{text!r} is not a number")
    return int(text)


@af.task
def double(x: int) -> int:
    return 2 * x


TRIES: dict[str, int] = {}


@af.task(retries=2)
def flaky(x: int) -> int:
    TRIES[str(x)] = TRIES.get(str(x), 0) + 1
    if TRIES[str(x)] < 2:
        raise RuntimeError("first try fails")
    return x


@af.task
def orchestrate(texts: list[str]) -> int:
    total = 0
    for text in texts:  # plain Python control flow on real values
        try:
            total += double(x=parse(text=text))
        except NotANumberError:  # the child's exception, same type
            total -= 1
    a, b = af.gather(double(x=1), flaky(x=7))
    return total + a + b


@af.task
async def async_child(x: int) -> int:
    await asyncio.sleep(0)
    return x + 1


@af.task
async def async_parent(n: int) -> list[int]:
    return list(await asyncio.gather(*(async_child(x=i) for i in range(n))))


@af.task
async def async_middle(x: int) -> int:
    return double(x=x) + 1  # an async child that itself calls a (sync) task


@af.task
async def async_grandparent(n: int) -> int:
    return sum(await asyncio.gather(*(async_middle(x=i) for i in range(n))))


def test_children_are_durable_nodes_with_real_exceptions() -> None:
    TRIES.clear()
    assert orchestrate(texts=["1", "x", "3"]) == (2 - 1 + 6) + 2 + 7
    rt = get_runtime()
    record = rt.meta.list_executions(limit=1)[0]
    nodes = {n.node_id: n for n in rt.meta.get_nodes(record.id)}
    children = [n for n in nodes.values() if n.kind == "child"]
    assert all(n.parent == "n0" for n in children)
    failed = [n for n in children if n.phase == "failed"]
    assert len(failed) == 1 and failed[0].error is not None
    assert failed[0].error.type.endswith("NotANumberError")
    flaky_node = next(n for n in children if n.task.endswith("flaky"))
    assert flaky_node.attempts == 2, "the callee's own retries apply"
    assert record.phase == "succeeded", "a caught child failure does not fail the run"


@af.task
def calls_and_lets_it_raise() -> int:
    return parse(text="nope")


def test_uncaught_child_exception_fails_the_caller() -> None:
    with pytest.raises(af.ExecutionFailedError, match="is not a number") as info:
        calls_and_lets_it_raise()
    assert info.value.error_type.endswith("NotANumberError")
    assert "raised in child task" in info.value.traceback or info.value.traceback


@af.task(timeout="30s")
def quick_with_timeout(x: int) -> int:
    return x


@af.task(timeout="1s", system_retries=0)
def calls_then_overruns(x: int) -> int:
    y = quick_with_timeout(x=x)  # the child's own timer ends here ...
    time.sleep(4)  # ... and the caller's must still hold
    return y


def test_a_child_with_its_own_timeout_keeps_the_callers_timeout() -> None:
    with pytest.raises(af.ExecutionFailedError, match="past its timeout of 1s") as info:
        calls_then_overruns(x=1)
    assert info.value.error_type.endswith("TaskTimeoutError")
    rt = get_runtime()
    record = rt.meta.list_executions(limit=1)[0]
    child = next(n for n in rt.meta.get_nodes(record.id) if n.kind == "child")
    assert child.phase == "succeeded"


def test_async_tasks_gather_children() -> None:
    assert async_parent(n=4) == [1, 2, 3, 4]


@af.workflow
def double_wf(x: int) -> int:
    return double(x=x)


@af.task
def calls_a_workflow_then_a_task(x: int) -> int:
    return double(x=double_wf(x=x)) + 1


@af.task
async def async_calls_a_workflow_then_awaits(x: int) -> int:
    return await async_middle(x=double_wf(x=x))


def test_calls_after_a_workflow_call_reach_the_calling_loop() -> None:
    """A workflow called inside a running (inline) task drives a loop of its own; the calls
    the task makes afterwards went to that finished loop's transport and came back failed
    with no error ('child ... failed')."""
    assert calls_a_workflow_then_a_task(x=3) == 13
    assert async_calls_a_workflow_then_awaits(x=3) == 13


NESTED_ASYNC = textwrap.dedent(
    """
    import asyncio
    import airfoil as af

    @af.task
    def double(x: int) -> int:
        return 2 * x

    @af.task
    async def middle(x: int) -> int:
        return double(x=x) + 1

    @af.task
    async def top(n: int) -> int:
        return sum(await asyncio.gather(*(middle(x=i) for i in range(n))))

    print(top(n=3))
    """
)


def test_gathered_async_children_that_call_tasks_do_not_deadlock(tmp_path: Path) -> None:
    """An async task gathering async children, each calling a task: the thread driving the
    loop runs the second child in a thread of its own (an event loop already runs in it) and
    blocks on it; that child's call must be able to drive the loop (it deadlocked on the
    drive lock, held by the blocked thread). In a subprocess, so a regression fails here
    instead of hanging the suite."""
    import os
    import subprocess
    import sys

    script = tmp_path / "nested.py"
    script.write_text(NESTED_ASYNC)
    env = {**os.environ, "AIRFOIL_HOME": str(tmp_path / "home")}
    proc = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["9"]  # (0+1) + (2+1) + (4+1)
    assert async_grandparent(n=4) == 16  # and in this process: 1 + 3 + 5 + 7


def test_async_gather_on_the_inline_executor_never_sticks() -> None:
    # An async task awaits its children from threads of its own (asyncio.to_thread), each
    # waiting on the inline transport: they drove the loop at once and could lose a call
    # (about 1 run in 4 failed "is stuck: nothing running, queued or due").
    for n in range(10, 18):
        assert async_parent(n=n) == list(range(1, n + 1))


@af.task
def item_doubles(x: int) -> int:
    return double(x=x) + 1


@af.workflow
def mapped(xs: list[int]) -> list[int]:
    return af.map_task(item_doubles)(x=xs)


def test_map_items_call_tasks() -> None:
    assert mapped(xs=[1, 2, 3]) == [3, 5, 7]
    rt = get_runtime()
    record = rt.meta.list_executions(limit=1)[0]
    children = [n for n in rt.meta.get_nodes(record.id) if n.kind == "child"]
    assert sorted(n.parent for n in children) == ["n0[0]", "n0[1]", "n0[2]"]


def test_child_call_overhead() -> None:
    @af.task
    def many(n: int) -> int:
        return sum(double(x=i) for i in range(n))

    t0 = time.perf_counter()
    assert many(n=200) == 2 * sum(range(200))
    per_call = (time.perf_counter() - t0) / 200
    assert per_call < 0.05  # generous bound; the budget is measured in benchmarks/


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
    def caller(n: int) -> int:
        return sum(step(i=i) for i in range(n))
    """
)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sigkill_then_resume_does_not_rerun_finished_children(tmp_path: Path) -> None:
    run = kill_and_resume(
        tmp_path, SCRIPT, "caller", args=("--n", "4"), kill_when=lambda calls: "2" in calls
    )
    assert run.data["outputs"] == {"o0": 60}
    assert run.before == ["0", "1", "2"] and run.after == ["2", "3"]
