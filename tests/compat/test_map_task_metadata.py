"""``map_task(t, metadata=TaskMetadata(...))`` sets what every item runs with, in place of the
task's own settings, as flytekit's array node does. Before 2026-12-06 the metadata was accepted
and ignored: ``retries=2`` retried no item."""

from __future__ import annotations

from pathlib import Path

import pytest

from airfoil.compat.flytekit import TaskMetadata, map_task, task, workflow
from airfoil.core.errors import DefinitionError

FLAGS: list[Path] = []  # the folder of the flags of the running test (inline executor)
RUNS: list[int] = []


@task
def flaky(x: int) -> int:
    flag = FLAGS[-1] / f"ran-{x}"
    if not flag.exists():  # the first attempt of each item fails
        flag.touch()
        raise RuntimeError(f"item {x}: first attempt")
    return 10 * x


@task
def counted(x: int) -> int:
    RUNS.append(x)
    return x


@workflow
def retried(xs: list[int]) -> list[int]:
    return map_task(flaky, metadata=TaskMetadata(retries=2))(x=xs)


@workflow
def cached(xs: list[int]) -> list[int]:
    return map_task(counted, metadata=TaskMetadata(cache=True, cache_version="m1"))(x=xs)


def test_metadata_retries_retry_each_item(tmp_path: Path) -> None:
    FLAGS.append(tmp_path)
    assert retried(xs=[1, 2]) == [10, 20]


def test_metadata_cache_caches_each_item() -> None:
    RUNS.clear()
    assert cached(xs=[7, 8]) == [7, 8]
    assert cached(xs=[7, 8, 9]) == [7, 8, 9]
    assert sorted(RUNS) == [7, 8, 9]  # 7 and 8 answered from the cache the second time


def test_the_map_outside_a_workflow_honours_it_too(tmp_path: Path) -> None:
    FLAGS.append(tmp_path)
    mapped = map_task(flaky, metadata=TaskMetadata(retries=1))
    assert mapped(x=[3]) == [30]


def test_bad_metadata_is_a_definition_error() -> None:
    with pytest.raises(DefinitionError, match="TaskMetadata"):
        map_task(counted, metadata={"retries": 2})
    with pytest.raises(DefinitionError, match="cache_ignore_input_vars"):
        map_task(counted, metadata=TaskMetadata(cache=True, cache_ignore_input_vars=("x",)))
