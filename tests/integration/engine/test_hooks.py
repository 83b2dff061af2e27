"""Hooks: attempts are reported to interceptors, and the context they add reaches the task."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from airfoil.executors.base import AttemptRequest, AttemptResult
from airfoil.executors.hooks import HookedExecutor, Hooks
from airfoil.local import LocalRuntime, convert_inputs, decode_outputs, spec_of
from airfoil.settings import AirfoilSettings

pytestmark = pytest.mark.integration

TASKS = textwrap.dedent(
    """
    import airfoil as af


    @af.task
    def traced(x: int) -> str:
        return af.current_context().context.get("traceparent", "none") + f"/{x}"


    @af.task(retries=1)
    def boom(x: int) -> int:
        raise ValueError("no")
    """
)


class Recorder(Hooks):
    def __init__(self) -> None:
        self.events: list[tuple[str, str, int, str]] = []

    def attempt_context(self, request: AttemptRequest) -> dict[str, str]:
        return {"traceparent": f"00-{request.execution_id[:8]}-{request.node_id}"}

    def attempt_started(self, request: AttemptRequest) -> None:
        self.events.append(("start", request.node_id, request.attempt, ""))

    def attempt_ended(self, request: AttemptRequest, result: AttemptResult) -> None:
        outcome = result.error.type if result.error else "ok"
        self.events.append(("end", request.node_id, request.attempt, outcome))


@pytest.fixture
def tasks(tmp_path: Path) -> Iterator[tuple[ModuleType, Path]]:
    code = tmp_path / "code"
    code.mkdir()
    name = f"hooked_{uuid.uuid4().hex[:8]}"
    (code / f"{name}.py").write_text(TASKS)
    sys.path.insert(0, str(code))
    try:
        yield importlib.import_module(name), code
    finally:
        sys.path.remove(str(code))
        sys.modules.pop(name, None)


@pytest.mark.parametrize("executor", ["inline", "process", "ray"])
def test_attempts_are_reported_and_the_context_reaches_the_task(
    executor: str, tasks: tuple[ModuleType, Path]
) -> None:
    module, code = tasks
    hooks = Recorder()
    rt = LocalRuntime(AirfoilSettings(executor=executor, max_parallel=1), hooks=hooks)  # type: ignore[arg-type]
    try:
        engine = rt.engine()
        assert isinstance(engine.executor, HookedExecutor)
        values = convert_inputs(module.traced, {"x": 4}, rt)
        record = engine.launch(spec_of(module.traced), values, code_root=str(code))
        record = engine.drive(record.id)
        assert record.phase == "succeeded", record.error
        out = decode_outputs(module.traced, record, rt)
        assert out == f"00-{record.id[:8]}-n0/4"

        values = convert_inputs(module.boom, {"x": 1}, rt)
        failed = engine.drive(engine.launch(spec_of(module.boom), values, code_root=str(code)).id)
        assert failed.phase == "failed"
    finally:
        rt.close()
    assert hooks.events == [
        ("start", "n0", 1, ""),
        ("end", "n0", 1, "ok"),
        ("start", "n0", 1, ""),
        ("end", "n0", 1, "ValueError"),
        ("start", "n0", 2, ""),
        ("end", "n0", 2, "ValueError"),
    ]


def test_without_hooks_executors_report_only_to_the_observability_hooks() -> None:
    # Issue 15: every runtime stores the metrics tasks log (ObservingHooks); without hooks
    # of the caller's nothing else is told (and the engine gets no command hooks).
    from airfoil.executors.observe import ObservingHooks

    rt = LocalRuntime(AirfoilSettings())
    try:
        ex = rt.executor()
        assert isinstance(ex, HookedExecutor)
        assert isinstance(ex.hooks, ObservingHooks) and ex.hooks.inner is None
        assert rt.engine().hooks is None
    finally:
        rt.close()


def test_a_failing_hook_never_fails_the_run(tasks: tuple[ModuleType, Path]) -> None:
    module, code = tasks

    class Broken(Hooks):
        def attempt_started(self, request: AttemptRequest) -> None:
            raise RuntimeError("observer bug")

    rt = LocalRuntime(AirfoilSettings(), hooks=Broken())
    try:
        engine = rt.engine()
        values = convert_inputs(module.traced, {"x": 1}, rt)
        record = engine.drive(engine.launch(spec_of(module.traced), values, code_root=str(code)).id)
        assert record.phase == "succeeded"
    finally:
        rt.close()


def test_the_server_reports_each_http_request(tmp_path: Path) -> None:
    import httpx
    from _in_thread import serve_in_thread

    from airfoil.server import ServerConfig, create_app

    seen: list[tuple[str, str, int]] = []

    class Http(Hooks):
        def http_request(self, method: str, path: str, status: int, duration_s: float) -> None:
            assert duration_s >= 0
            seen.append((method, path, status))

    app = create_app(ServerConfig(home=str(tmp_path), run_engine=False, hooks=Http()))

    def broken() -> None:  # a bug in a route: answered 500 by the outer error handler
        raise RuntimeError("a bug")

    app.add_api_route("/api/v1/broken/{item}", broken)
    app.router.routes.insert(0, app.router.routes.pop())  # before the console's catch-all
    server = serve_in_thread(app, log_level="error")
    try:
        base = server.url
        assert httpx.get(base + "/healthz").status_code == 200
        assert httpx.get(base + "/api/v1/nope").status_code == 404
        assert httpx.get(base + "/api/v1/broken/7").status_code == 500
        histogram = {
            (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
            for metric in app.state.metrics.api.collect()
            for s in metric.samples
            if s.name.endswith("_count")
        }
    finally:
        server.stop()
    assert ("GET", "/healthz", 200) in seen and ("GET", "/api/v1/nope", 404) in seen
    # A request whose route raised is reported too, as the 500 it was answered with, and
    # the histogram labels it with its route's template, not the path asked for.
    assert ("GET", "/api/v1/broken/7", 500) in seen
    assert histogram[("GET", "/api/v1/broken/{item}", "500")] == 1
    assert histogram[("GET", "/healthz", "200")] == 1


def test_each_command_the_loop_carries_out_is_reported_with_its_cause(
    tasks: tuple[ModuleType, Path],
) -> None:
    module, code = tasks

    class Commands(Hooks):
        def __init__(self) -> None:
            self.seen: list[tuple[str, str, int]] = []

        def command_carried_out(self, execution_id: str, command: object, cause: int) -> None:
            self.seen.append((type(command).__name__, str(getattr(command, "node_id", "")), cause))

    hooks = Commands()
    rt = LocalRuntime(AirfoilSettings(), hooks=hooks)
    try:
        engine = rt.engine()
        values = convert_inputs(module.boom, {"x": 1}, rt)
        record = engine.drive(engine.launch(spec_of(module.boom), values, code_root=str(code)).id)
        assert record.phase == "failed"
        log = {e.seq: e for e in rt.meta.get_events(record.id)}
    finally:
        rt.close()
    assert [(name, node) for name, node, _ in hooks.seen] == [
        ("Enqueue", "n0"),
        ("StartAttempt", "n0"),
        ("ScheduleRetry", "n0"),
        ("Enqueue", "n0"),
        ("StartAttempt", "n0"),
        ("Finished", ""),
    ]
    # Each names the stored entry it follows from; the retry, the first attempt's failure.
    caused_by = [(log[c].kind, log[c].to_phase) for _, _, c in hooks.seen]
    assert caused_by == [
        ("node", "queued"),
        ("node", "running"),
        ("node", "retrying"),
        ("node", "queued"),
        ("node", "running"),
        ("execution", "failed"),
    ]
    retrying = log[hooks.seen[2][2]]
    assert (log[retrying.cause_id].kind, log[retrying.cause_id].to_phase) == ("attempt", "failed")
    assert log[hooks.seen[3][2]].cause_id == retrying.seq  # the retry's queued names it
