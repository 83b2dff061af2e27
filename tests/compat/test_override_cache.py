"""``t(x=1).with_overrides(cache=..., cache_version=..., cache_serialize=...)`` changes that node's
caching, as on a Flyte cluster (flytekit's node metadata carries them). Before 2026-12-06 they
were recorded and ignored: a node overridden with ``cache=False`` silently answered from the
cache, and a new ``cache_version`` on the node silently returned the old version's result."""

from __future__ import annotations

from pathlib import Path

import pytest

from airfoil.compat.flytekit import Cache, task, workflow
from airfoil.core.errors import DefinitionError

RUNS: list[int] = []


@task(cache=True, cache_version="1")
def counted(x: int) -> int:
    RUNS.append(x)
    return x + len(RUNS) * 0


@task
def plain(x: int) -> int:
    RUNS.append(x)
    return x


@workflow
def fresh(x: int) -> int:
    return counted(x=x).with_overrides(cache=False)


@workflow
def cached(x: int) -> int:
    return counted(x=x)


@workflow
def bumped(x: int) -> int:
    return counted(x=x).with_overrides(cache_version="2")


@workflow
def turned_on(x: int) -> int:
    return plain(x=x).with_overrides(cache=True, cache_version="p1")


@workflow
def turned_on_with_cache_object(x: int) -> int:
    return plain(x=x).with_overrides(cache=Cache(version="p2"))


def test_cache_false_on_a_node_runs_the_task_every_time() -> None:
    RUNS.clear()
    assert cached(x=101) == 101
    assert cached(x=101) == 101
    assert RUNS == [101]  # the task's own policy: cached
    assert fresh(x=101) == 101
    assert fresh(x=101) == 101
    assert RUNS == [101, 101, 101]  # the node's override: never from the cache


def test_a_new_cache_version_on_a_node_misses_the_old_entries() -> None:
    RUNS.clear()
    assert cached(x=202) == 202
    assert bumped(x=202) == 202
    assert bumped(x=202) == 202
    assert RUNS == [202, 202]  # version 2 ran once, then answered from its own entry


def test_cache_turned_on_for_one_node() -> None:
    RUNS.clear()
    assert turned_on(x=303) == 303
    assert turned_on(x=303) == 303
    assert turned_on_with_cache_object(x=303) == 303
    assert turned_on_with_cache_object(x=303) == 303
    assert RUNS == [303, 303]
    plain(x=303)  # the task itself is still uncached
    plain(x=303)
    assert RUNS == [303, 303, 303, 303]


def test_a_bad_cache_override_is_a_definition_error(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="cache_version"):

        @workflow
        def bad(x: int) -> int:
            return counted(x=x).with_overrides(cache_version=3)

    with pytest.raises(DefinitionError, match="cache="):

        @workflow
        def bad2(x: int) -> int:
            return counted(x=x).with_overrides(cache="yes")
