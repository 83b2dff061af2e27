"""The executor registry: names to factories, given the runtime by the entry point."""

from __future__ import annotations

import pytest

from airfoil.core.errors import ConfigError
from airfoil.executors.base import AttemptRequest, AttemptResult, Executor
from airfoil.executors.inline import InlineExecutor
from airfoil.executors.registry import ExecutorContext, ExecutorRegistry, default_executors
from airfoil.runtime.worker import WorkerRuntime, worker_runtime
from airfoil.store.blob import LocalBlobStore

pytestmark = pytest.mark.unit


def _context(tmp: str = "blobs") -> ExecutorContext:
    return ExecutorContext(
        blobs=LocalBlobStore(tmp),
        blob_url=tmp,
        max_parallel=None,
        runtime=WorkerRuntime(),
        runtime_factory=worker_runtime,
    )


class _Custom(Executor):
    name = "custom"

    def __init__(self, ctx: ExecutorContext) -> None:
        self.ctx = ctx

    def submit(self, request: AttemptRequest) -> None:
        raise NotImplementedError

    def poll(self, timeout: float | None) -> list[AttemptResult]:
        return []

    def cancel(self, execution_id: str, node_id: str) -> None:
        return None


def test_default_registry_builds_inline_with_the_given_runtime() -> None:
    registry = default_executors()
    assert registry.names() == ["inline", "process"]
    ex = registry.create("inline", _context())
    assert isinstance(ex, InlineExecutor)


def test_a_new_executor_plugs_in_without_touching_the_defaults() -> None:
    registry = default_executors().copy()
    registry.register("custom", _Custom)
    ctx = _context()
    ex = registry.create("custom", ctx)
    assert isinstance(ex, _Custom) and ex.ctx is ctx
    assert "custom" not in default_executors().names()


def test_an_unknown_executor_is_a_config_error_naming_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="'inline' or 'process'"):
        default_executors().create("ray", _context())
    with pytest.raises(ConfigError, match="invalid executor name"):
        ExecutorRegistry().register("no spaces", _Custom)
