"""map_task: fan-out over lists with per-item retries and caching, rolled-up status, failure
ratios, and resume after a crash without re-running finished items."""

from __future__ import annotations

import functools
import itertools
import textwrap
import time
from pathlib import Path

import pytest
from _killresume import kill_and_resume

import airfoil as af
from airfoil.core.errors import DefinitionError
from airfoil.local import get_runtime

pytestmark = pytest.mark.integration


@af.task
def square(x: int) -> int:
    return x * x


@af.task
def scale(x: int, factor: int) -> int:
    return x * factor


@af.task
def pair(a: int, b: str) -> str:
    return f"{b}{a}"


@af.task
def total(xs: list[int]) -> int:
    return sum(xs)


@af.task
def numbers(n: int) -> list[int]:
    return list(range(n))


@af.task(retries=0)
def picky(x: int) -> int:
    if x % 5 == 3:
        raise ValueError(f"{x} is unlucky")
    return x


ATTEMPTS: dict[int, int] = {}


@af.task(retries=2)
def flaky_item(x: int) -> int:
    ATTEMPTS[x] = ATTEMPTS.get(x, 0) + 1
    if ATTEMPTS[x] < 2:
        raise RuntimeError("first try fails")
    return x + 100


CACHED_RUNS: list[int] = []


@af.task
def nap(s: float) -> float:
    time.sleep(s)
    return s


@af.task(cache=True)
def cached_item(x: int) -> int:
    CACHED_RUNS.append(x)
    return -x


@af.workflow
def squares_total(n: int = 10) -> int:
    return total(xs=af.map_task(square)(x=numbers(n=n)))


@af.workflow
def two_lists(a: list[int], b: list[str]) -> list[str]:
    return af.map_task(pair, concurrency=2)(a=a, b=b)


@af.workflow
def strict(xs: list[int]) -> list[int]:
    return af.map_task(picky)(x=xs)


@af.workflow
def lenient(xs: list[int]) -> list[int | None]:
    return af.map_task(picky, min_success_ratio=0.5)(x=xs)


def test_map_then_reduce_and_rolled_up_counts() -> None:
    assert squares_total(n=10) == 285
    rt = get_runtime()
    record = rt.meta.list_executions(limit=1)[0]
    nodes = {n.node_id: n for n in rt.meta.get_nodes(record.id)}
    assert set(nodes) == {"n0", "n1", "n2"}, "one row for the map, not one per item"
    assert nodes["n1"].kind == "map" and nodes["n1"].map_counts == {"succeeded": 10}
    items = [a for a in rt.meta.get_attempts(record.id) if a.node_id.startswith("n1[")]
    assert len(items) == 10 and all(a.outputs for a in items)


def test_partial_and_several_lists_and_empty() -> None:
    @af.workflow
    def scaled(xs: list[int]) -> list[int]:
        return af.map_task(functools.partial(scale, factor=3))(x=xs)

    assert scaled(xs=[1, 2, 3]) == [3, 6, 9]
    assert scaled(xs=[]) == []
    assert two_lists(a=[1, 2, 3], b=["x", "y", "z"]) == ["x1", "y2", "z3"]
    with pytest.raises(af.ExecutionFailedError, match="different lengths"):
        two_lists(a=[1, 2], b=["x"])


def test_item_failure_reports_its_index_and_ratio() -> None:
    with pytest.raises(af.ExecutionFailedError, match=r"item 3: ValueError: 3 is unlucky"):
        strict(xs=list(range(10)))
    out = lenient(xs=list(range(10)))
    assert out == [0, 1, 2, None, 4, 5, 6, 7, None, 9]
    with pytest.raises(af.ExecutionFailedError, match=r"4 of 5 items failed"):
        lenient(xs=[3, 8, 13, 18, 1])


def test_per_item_retries_and_caching() -> None:
    ATTEMPTS.clear()

    @af.workflow
    def retried(xs: list[int]) -> list[int]:
        return af.map_task(flaky_item)(x=xs)

    assert retried(xs=[1, 2, 3]) == [101, 102, 103]
    assert ATTEMPTS == {1: 2, 2: 2, 3: 2}
    rt = get_runtime()
    record = rt.meta.list_executions(limit=1)[0]
    assert rt.meta.get_node(record.id, "n0").attempts == 6

    CACHED_RUNS.clear()

    @af.workflow
    def cached(xs: list[int]) -> list[int]:
        return af.map_task(cached_item)(x=xs)

    assert cached(xs=[1, 2, 3]) == [-1, -2, -3]
    assert cached(xs=[2, 3, 4]) == [-2, -3, -4]
    assert CACHED_RUNS == [1, 2, 3, 4], "items 2 and 3 hit the cache on the second run"
    second = rt.meta.list_executions(limit=1)[0]
    node = rt.meta.get_node(second.id, "n0")
    assert node.cache_status == "partial" and node.cache_reason.startswith("2 of 3 items")
    # A map served entirely from the cache shows as a cache hit, and so do its items.
    assert cached(xs=[4, 3]) == [-4, -3]
    assert CACHED_RUNS == [1, 2, 3, 4]
    third = rt.meta.list_executions(limit=1)[0]
    node = rt.meta.get_node(third.id, "n0")
    assert node.cache_status == "hit" and node.map_counts == {"succeeded": 2}
    items = {a.node_id: a for a in rt.meta.get_attempts(third.id)}
    assert set(items) == {"n0[0]", "n0[1]"}
    assert {(a.phase, a.worker) for a in items.values()} == {("succeeded", "cache")}


def test_item_durations_are_their_own() -> None:
    @af.workflow
    def naps(xs: list[float]) -> list[float]:
        return af.map_task(nap)(s=xs)

    assert naps(xs=[0.05] * 6) == [0.05] * 6
    rt = get_runtime()
    record = rt.meta.list_executions(limit=1)[0]
    items = sorted(rt.meta.get_attempts(record.id), key=lambda a: a.started_at)
    assert len(items) == 6
    for a in items:
        assert a.ended_at is not None and a.ended_at - a.started_at >= 0.05, a
    # Not the wait of the ones before: the inline executor runs the items one after another,
    # so each starts once the one before it has ended (an item timed from its admission, with
    # the others, would start before they end). Not an upper bound on each nap: on a loaded
    # machine a 0.05 s nap is woken late by any amount.
    for before, after in itertools.pairwise(items):
        assert before.ended_at is not None and after.started_at >= before.ended_at, items


def test_definition_errors() -> None:
    with pytest.raises(DefinitionError, match="concurrency"):
        af.map_task(square, concurrency=0)
    with pytest.raises(DefinitionError, match="min_success_ratio"):
        af.map_task(square, min_success_ratio=1.5)
    with pytest.raises(DefinitionError, match="maps a task"):
        af.map_task(lambda x: x)
    with pytest.raises(DefinitionError, match="no input"):
        af.map_task(functools.partial(scale, nope=1))
    with pytest.raises(af.DefinitionError, match="expects list"):

        @af.workflow
        def not_a_list(x: int) -> list[int]:
            return af.map_task(square)(x=x)


def test_called_outside_a_workflow() -> None:
    assert af.map_task(square)(x=[1, 2, 3]) == [1, 4, 9]
    # on main: "map_scale needs input 'factor' (int) but it was not given"
    assert af.map_task(functools.partial(scale, factor=3))(x=[1, 2]) == [3, 6]


def test_an_input_fixed_by_the_partial_cannot_be_mapped_too() -> None:
    """On main the partial's value silently won over the mapped list (Python's partial lets
    the call's keyword win: either reading is a guess)."""
    tripled = af.map_task(functools.partial(scale, factor=3))
    with pytest.raises(
        DefinitionError, match=r"'factor' fixed by functools.partial\(\.\.\., factor=3\)"
    ):

        @af.workflow
        def both(xs: list[int], fs: list[int]) -> list[int]:
            return tripled(x=xs, factor=fs)

    with pytest.raises(DefinitionError, match="cannot also be given to the call"):
        tripled(x=[1], factor=[2])


MAP_SCRIPT = textwrap.dedent(
    """
    import os, time
    import airfoil as af

    LOG = os.environ["CALLS_LOG"]

    @af.task(system_retries=0)
    def work(x: int) -> int:
        with open(LOG, "a") as fh:
            fh.write(f"{x}\\n")
        if x == 30 and not os.path.exists(LOG + ".resumed"):
            time.sleep(60)
        return x * 2

    @af.workflow
    def wf() -> list[int]:
        return af.map_task(work)(x=list(range(40)))
    """
)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sigkill_mid_map_then_resume_reruns_only_unfinished_items(tmp_path: Path) -> None:
    run = kill_and_resume(tmp_path, MAP_SCRIPT, "wf", kill_when=lambda calls: "30" in calls)
    assert run.data["outputs"]["o0"] == [2 * x for x in range(40)]
    # Every item that had finished before the kill is durable: none runs again. Item 30,
    # running at the kill, runs again without being charged for the driver's death (the
    # task has no system retries), and items that had not started are not charged either.
    assert run.before == [str(i) for i in range(31)]
    assert run.after == [str(i) for i in range(30, 40)]
    assert run.nodes["n0"]["phase"] == "succeeded"
