"""The executor registry: names to factories, given the runtime by the entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from airfoil.core.errors import ConfigError
from airfoil.executors.base import AttemptRequest, AttemptResult, DelegatingExecutor, Executor
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
    assert registry.names() == ["inline", "process", "ray"]
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
    with pytest.raises(ConfigError, match="'inline' or 'process' or 'ray'"):
        default_executors().create("gpu", _context())
    with pytest.raises(ConfigError, match="invalid executor name"):
        ExecutorRegistry().register("no spaces", _Custom)


def test_the_ray_executor_is_registered_without_importing_ray() -> None:
    # Building it is free: Ray is imported only when the executor first reaches its cluster.
    code = (
        "import sys\n"
        "from airfoil.executors.registry import ExecutorContext, default_executors\n"
        "from airfoil.runtime.worker import WorkerRuntime, worker_runtime\n"
        "from airfoil.store.blob import LocalBlobStore\n"
        "import airfoil.local, airfoil.cli.main\n"
        "ctx = ExecutorContext(blobs=LocalBlobStore('b'), blob_url='b', max_parallel=None,\n"
        "    runtime=WorkerRuntime(), runtime_factory=worker_runtime, ray_address='auto')\n"
        "ex = default_executors().create('ray', ctx)\n"
        "assert ex.name == 'ray' and ex.address == 'auto'\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_without_ray_installed_the_ray_executor_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airfoil.executors.ray import RayExecutor

    monkeypatch.setitem(sys.modules, "ray", None)  # what a missing package looks like
    ex = RayExecutor("blobs", runtime=worker_runtime)
    with pytest.raises(ConfigError, match=r"pip install 'airfoil\[ray\]'"):
        ex.capacity()
    with pytest.raises(ConfigError, match="needs Ray, which is not installed"):
        ex.submit(_request())
    ex.close()


def test_bad_ray_executor_arguments_are_config_errors() -> None:
    from airfoil.executors.ray import RayExecutor

    with pytest.raises(ConfigError, match="max_workers must be at least 1"):
        RayExecutor("blobs", runtime=worker_runtime, max_workers=0)


def test_settings_take_any_executor_name_and_the_runtime_checks_it(tmp_path: Path) -> None:
    from airfoil.local import LocalRuntime
    from airfoil.settings import AirfoilSettings, SettingsError

    assert AirfoilSettings(executor="ray", ray_address="10.0.0.1:6379").executor == "ray"
    with pytest.raises(SettingsError, match="invalid executor name"):
        AirfoilSettings(executor="ray cluster")
    with pytest.raises(ConfigError, match=r"unknown executor 'gpu' \(AIRFOIL_EXECUTOR\)"):
        LocalRuntime(AirfoilSettings(home=str(tmp_path), executor="gpu"))
    registry = default_executors().copy()
    registry.register("custom", _Custom)
    rt = LocalRuntime(AirfoilSettings(home=str(tmp_path), executor="custom"), executors=registry)
    try:
        ex = rt.executor()  # wrapped by the observability hooks (issue 15)
        assert isinstance(ex, DelegatingExecutor) and isinstance(ex.inner, _Custom)
    finally:
        rt.meta.close()


def _request() -> AttemptRequest:
    from airfoil.core.records import Interface, TaskSpec

    task = TaskSpec(name="t", version="1", interface=Interface(), module="m", qualname="t")
    return AttemptRequest(
        execution_id="e", node_id="n0", attempt=1, task=task, inputs={}, blob_url="blobs"
    )


def test_inline_results_are_ready_at_once_and_a_wrapper_says_so(tmp_path: Path) -> None:
    """The loop collects an inline attempt in the turn that submitted it only while
    ``has_results`` says a poll would return at once; executors whose attempts run
    elsewhere keep the default (the next turn polls)."""
    inline = InlineExecutor(LocalBlobStore(str(tmp_path)), WorkerRuntime())
    wrapped = DelegatingExecutor(inline)
    assert not inline.has_results() and not wrapped.has_results()
    wrapped.submit(_request())  # module "m" cannot be imported: a system error, reported
    assert inline.has_results() and wrapped.has_results()
    (result,) = wrapped.poll(0)
    assert result.node_id == "n0" and result.error is not None
    assert not inline.has_results() and not wrapped.has_results()
    assert not _Custom(_context(str(tmp_path))).has_results()
