"""Metrics logged by real runs are stored with their attempts, on the inline and process
executors, and what a crashed worker flushed is kept (issue 15)."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from airfoil.local import LocalRuntime, convert_inputs, spec_of
from airfoil.settings import AirfoilSettings

pytestmark = pytest.mark.integration

TASKS = textwrap.dedent(
    """
    import os

    import airfoil as af


    @af.task
    def train(n: int) -> float:
        ctx = af.current_context()
        loss = 0.0
        for i in range(n):
            loss = 1.0 / (i + 1)
            ctx.log_metric("loss", loss)
            ctx.count("batches")
        return loss


    @af.task
    def quiet(n: int) -> int:
        return n


    @af.task
    def crashes(n: int) -> int:
        ctx = af.current_context()
        for i in range(n):
            ctx.log_metric("loss", float(i))
        ctx.metrics.flush()  # what is flushed survives the crash below
        ctx.log_metric("loss", -1.0)  # never flushed: lost with the process
        os._exit(3)


    @af.task(retries=1)
    def flaky(n: int) -> int:
        ctx = af.current_context()
        ctx.log_metric("tries", float(ctx.attempt))
        if ctx.attempt == 1:
            raise ValueError("first try fails")
        return n
    """
)


@pytest.fixture
def tasks(tmp_path: Path) -> Iterator[tuple[ModuleType, Path]]:
    code = tmp_path / "code"
    code.mkdir()
    name = f"metered_{uuid.uuid4().hex[:8]}"
    (code / f"{name}.py").write_text(TASKS)
    sys.path.insert(0, str(code))
    try:
        yield importlib.import_module(name), code
    finally:
        sys.path.remove(str(code))
        sys.modules.pop(name, None)


def _run(rt: LocalRuntime, task: object, code: Path, **inputs: object) -> str:
    engine = rt.engine()
    values = convert_inputs(task, inputs, rt)  # type: ignore[arg-type]
    record = engine.launch(spec_of(task), values, code_root=str(code))  # type: ignore[arg-type]
    return engine.drive(record.id).id


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_metrics_of_a_run_are_stored_per_attempt(
    executor: str, tasks: tuple[ModuleType, Path]
) -> None:
    module, code = tasks
    rt = LocalRuntime(AirfoilSettings(executor=executor, max_parallel=1))  # type: ignore[arg-type]
    try:
        eid = _run(rt, module.train, code, n=500)
        series = {s.name: s for s in rt.meta.metric_series(eid)}
        assert set(series) == {"loss", "batches"}
        loss, batches = series["loss"], series["batches"]
        assert (loss.node_id, loss.attempt, loss.kind) == ("n0", 1, "gauge")
        assert loss.task.endswith(".train")
        assert loss.steps == list(range(500))
        assert loss.values == [1.0 / (i + 1) for i in range(500)]
        assert batches.kind == "counter" and batches.values[-1] == 500.0
        assert loss.times == sorted(loss.times)
        # the chunks were merged and removed from the blob store
        assert not list((Path(rt.settings.home) / "blobs" / "metrics").rglob("*.msgpack"))
        quiet = _run(rt, module.quiet, code, n=1)
        assert rt.meta.metric_series(quiet) == []
    finally:
        rt.close()


def test_each_attempt_keeps_its_own_series(tasks: tuple[ModuleType, Path]) -> None:
    module, code = tasks
    rt = LocalRuntime(AirfoilSettings(executor="inline"))
    try:
        eid = _run(rt, module.flaky, code, n=1)
        got = [(s.attempt, s.values) for s in rt.meta.metric_series(eid, "n0", "tries")]
        assert got == [(1, [1.0]), (2, [2.0])]
    finally:
        rt.close()


def test_a_crashed_worker_keeps_what_it_flushed(tasks: tuple[ModuleType, Path]) -> None:
    module, code = tasks
    rt = LocalRuntime(AirfoilSettings(executor="process", max_parallel=1))  # type: ignore[arg-type]
    try:
        eid = _run(rt, module.crashes, code, n=50)
        assert rt.meta.get_execution(eid).phase == "failed"
        # a lost worker is retried by the platform: every attempt kept what it flushed
        tries = rt.meta.get_attempts(eid, "n0")
        series = rt.meta.metric_series(eid)
        assert [s.attempt for s in series] == [a.attempt for a in tries] and series
        for s in series:
            assert s.values == [float(i) for i in range(50)]  # the unflushed -1.0 is lost
    finally:
        rt.close()


FAILING = textwrap.dedent(
    """
    import airfoil as af


    def parse(row: int) -> int:
        raise ValueError(f"row {row} of /data/part-{row}.csv is malformed")


    @af.task
    def load(row: int) -> int:
        return parse(row)


    @af.task
    def other(row: int) -> int:
        raise KeyError("label")
    """
)


def test_real_failures_group_by_signature_across_runs(tmp_path: Path) -> None:
    code = tmp_path / "fcode"
    code.mkdir()
    name = f"failing_{uuid.uuid4().hex[:8]}"
    (code / f"{name}.py").write_text(FAILING)
    sys.path.insert(0, str(code))
    try:
        module = importlib.import_module(name)
        rt = LocalRuntime(AirfoilSettings(executor="process", max_parallel=1))  # type: ignore[arg-type]
        try:
            runs = [_run(rt, module.load, code, row=r) for r in (3, 17, 250)]
            _run(rt, module.other, code, row=1)
            groups = rt.meta.failure_groups("default")
        finally:
            rt.close()
    finally:
        sys.path.remove(str(code))
        sys.modules.pop(name, None)
    assert [(g.type, g.count, g.executions) for g in groups] == [
        ("ValueError", 3, 3),
        ("KeyError", 1, 1),
    ]
    rows = groups[0]
    assert rows.pattern == "row <n> of <path> is malformed"
    assert rows.frame == f"{name}.py:parse"
    assert rows.tasks == [f"{name}.load@{module.load.spec.version}"]
    assert rows.example.execution_id == runs[-1] and "row 250" in rows.example.message
    assert "in parse" in rows.example.traceback
