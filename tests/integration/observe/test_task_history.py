"""Task history from real runs, on SQLite and PostgreSQL: every attempt is recorded with its
task version, ``airfoil tasks stats`` summarises it, and an attempt far slower than its
history (or a metric far from its history) is flagged by ``airfoil executions show``;
too little history flags nothing (issue 15)."""

from __future__ import annotations

import importlib
import json
import re
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from airfoil.cli.main import app
from airfoil.local import LocalRuntime, convert_inputs, get_runtime, spec_of
from airfoil.store._task_history import execution_anomalies, task_history

pytestmark = pytest.mark.integration

TASKS = textwrap.dedent(
    """
    import time

    import airfoil as af


    @af.task
    def step(delay: float, loss: float) -> float:
        time.sleep(delay)
        af.current_context().log_metric("loss", loss)
        return loss


    @af.workflow
    def pipeline(delay: float = 0.0, loss: float = 0.5) -> float:
        return step(delay=delay, loss=loss)
    """
)


@pytest.fixture
def tasks(tmp_path: Path) -> Iterator[tuple[ModuleType, Path]]:
    code = tmp_path / "code"
    code.mkdir()
    name = f"hist_{uuid.uuid4().hex[:8]}"
    (code / f"{name}.py").write_text(TASKS)
    sys.path.insert(0, str(code))
    try:
        yield importlib.import_module(name), code
    finally:
        sys.path.remove(str(code))
        sys.modules.pop(name, None)


@pytest.fixture(params=["sqlite", "postgres"])
def rt(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalRuntime]:
    """The environment's runtime (the one the CLI uses too), on SQLite or PostgreSQL."""
    if request.param == "postgres":
        new_schema: Callable[[], str] = request.getfixturevalue("pg_new_schema")
        monkeypatch.setenv("AIRFOIL_DATABASE_URL", new_schema())
    runtime = get_runtime()
    yield runtime


def _run(rt: LocalRuntime, wf: object, code: Path, **inputs: object) -> str:
    engine = rt.engine()
    values = convert_inputs(wf, inputs, rt)  # type: ignore[arg-type]
    record = engine.launch(spec_of(wf), values, code_root=str(code))  # type: ignore[arg-type]
    done = engine.drive(record.id)
    assert done.phase == "succeeded"
    return done.id


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_a_slow_outlier_and_an_odd_metric_are_flagged(
    rt: LocalRuntime, tasks: tuple[ModuleType, Path]
) -> None:
    module, code = tasks
    task = f"{module.__name__}.step"
    usual = [_run(rt, module.pipeline, code, loss=0.5 + i / 1000) for i in range(12)]
    slow = _run(rt, module.pipeline, code, delay=1.0, loss=9.0)
    fine = _run(rt, module.pipeline, code, loss=0.505)

    # the history: every run of the version, newest first, with its metric's final value
    history = task_history(rt.meta, "default", task, last=100)
    assert history.version == module.step.spec.version
    assert [r.execution_id for r in history.runs] == [fine, slow, *usual[::-1]]
    assert history.duration is not None and history.duration.count == 14
    assert history.duration.max >= 1.0
    assert history.metric_values["loss"][:2] == [0.505, 9.0]
    assert history.metrics["loss"].count == 14
    assert [r.execution_id for r in task_history(rt.meta, "default", task, last=3).runs] == [
        fine,
        slow,
        usual[-1],
    ]

    found = execution_anomalies(rt.meta, slow, k=3.0, min_history=10, last=100)
    assert [(a.node_id, a.kind, a.metric) for a in found] == [
        ("n0", "duration", ""),
        ("n0", "metric", "loss"),
    ]
    took, loss = found
    assert took.count == 12 and took.value >= 1.0 and took.deviations > 3
    assert re.fullmatch(
        r"took 1\.\d s, \d+\.\d std above the mean [\d.e-]+ s of 12 runs", took.message
    ), took.message
    assert loss.message.startswith("loss ended at 9.0, ") and "above the mean 0.50" in loss.message
    assert execution_anomalies(rt.meta, usual[-1], k=3.0, min_history=10) == []
    # k is the user's: a huge k flags nothing
    assert execution_anomalies(rt.meta, slow, k=1e9, min_history=10) == []

    shown = _cli("executions", "show", slow)
    assert "anomalies" in shown and f"! n0 attempt 1 {task}: took 1." in shown
    assert "loss ended at 9.0" in shown
    assert "anomalies" not in _cli("executions", "show", usual[-1])
    as_json = json.loads(_cli("executions", "show", slow, "--json"))
    assert [a["kind"] for a in as_json["anomalies"]] == ["duration", "metric"]

    stats = _cli("tasks", "stats", task)
    assert f"task {task} @ {module.step.spec.version}: 14 successful runs" in stats
    assert re.search(r"duration\s+│\s+14\s+│", stats) and re.search(r"loss\s+│\s+14\s+│", stats)
    assert slow in stats  # a bar per run
    data = json.loads(_cli("tasks", "stats", task, "--last", "2", "--json"))
    assert [r["execution_id"] for r in data["runs"]] == [fine, slow]
    assert data["duration"]["count"] == 2 and data["metrics"]["loss"]["max"] == 9.0


def test_too_little_history_flags_nothing(rt: LocalRuntime, tasks: tuple[ModuleType, Path]) -> None:
    module, code = tasks
    for _ in range(5):
        _run(rt, module.pipeline, code)
    slow = _run(rt, module.pipeline, code, delay=1.0, loss=9.0)
    assert execution_anomalies(rt.meta, slow, k=3.0, min_history=10) == []
    assert "anomalies" not in _cli("executions", "show", slow)
    # with a smaller minimum (the setting), the same run is flagged
    assert [a.kind for a in execution_anomalies(rt.meta, slow, k=3.0, min_history=5)] == [
        "duration",
        "metric",
    ]


def test_stats_of_an_unknown_task_or_version_say_what_to_do(
    rt: LocalRuntime, tasks: tuple[ModuleType, Path]
) -> None:
    module, code = tasks
    _run(rt, module.pipeline, code)
    result = CliRunner().invoke(app, ["tasks", "stats", "step"])
    assert result.exit_code != 0
    assert "has no recorded runs" in result.output and "module.function" in result.output
    result = CliRunner().invoke(
        app, ["tasks", "stats", f"{module.__name__}.step", "--version", "nope"]
    )
    assert result.exit_code != 0 and "has no runs of version 'nope'" in result.output
