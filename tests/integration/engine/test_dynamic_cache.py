"""``@dynamic(cache=True)`` caches the dynamic node's outputs as ``@task(cache=True)`` caches a
task's, by its inputs and its code version: a hit runs neither the body nor the graph it
would build. Before 2026-12-06 ``af.dynamic(cache=True)`` was refused and flytekit's
``@dynamic(cache=True, cache_version=...)`` was only recorded (every run ran the body and the
whole graph again)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import airfoil as af
from airfoil.compat import flytekit as fl
from airfoil.local import get_runtime

pytestmark = pytest.mark.integration

BODIES: list[int] = []
SQUARES: list[int] = []


@af.task
def square(x: int) -> int:
    SQUARES.append(x)
    return x * x


@af.task
def add(a: int, b: int) -> int:
    return a + b


def _sum_of_squares(n: int) -> int:
    """The body both dynamics run: its calls build their graph."""
    BODIES.append(n)
    total = 0
    for i in range(n):
        total = add(a=total, b=square(x=i))
    return total


@af.dynamic(cache=True)
def sum_squares(n: int) -> int:
    return _sum_of_squares(n)


@af.workflow
def squares_wf(n: int) -> int:
    return sum_squares(n=n)


def test_a_cached_dynamic_runs_once_per_inputs_and_hits_after() -> None:
    BODIES.clear()
    SQUARES.clear()
    assert squares_wf(n=3) == 0 + 1 + 4
    assert BODIES == [3] and sorted(SQUARES) == [0, 1, 2]
    assert squares_wf(n=3) == 5  # a hit: no body, no graph
    assert BODIES == [3] and sorted(SQUARES) == [0, 1, 2]
    rt = get_runtime()
    latest = rt.meta.list_executions(limit=1)[0]
    node = rt.meta.get_node(latest.id, "n0")
    assert node.cache_status == "hit"
    assert not [n for n in rt.meta.get_nodes(latest.id) if n.parent], "no graph ran"
    assert squares_wf(n=2) == 1  # other inputs: a miss that runs
    assert BODIES == [3, 2]
    (first, *_) = rt.meta.list_executions(limit=3)[::-1]
    assert rt.meta.get_node(first.id, "n0").cache_status == "put"


@fl.dynamic(cache=True, cache_version="1.0")
def fl_sum(n: int) -> int:
    return _sum_of_squares(n)


@fl.workflow
def fl_wf(n: int = 3) -> int:
    return fl_sum(n=n)


def test_flytekits_dynamic_cache_and_version_are_honoured() -> None:
    BODIES.clear()
    assert fl_wf(n=4) == 14 and fl_wf(n=4) == 14
    assert BODIES == [4]
    (entry,) = get_runtime().meta.list_cache(task=fl_sum.name)
    assert entry.parts.cache_version == "1.0"


@af.task
def fails(x: int) -> int:
    raise ValueError(f"no {x}")


@af.dynamic(cache=True, cache_serialize=True)
def failing(n: int) -> int:
    BODIES.append(n)
    return fails(x=n)


@af.workflow
def failing_wf(n: int) -> int:
    return failing(n=n)


def test_a_failed_graph_is_not_cached_and_runs_again() -> None:
    BODIES.clear()
    for _ in range(2):
        with pytest.raises(Exception, match="no 1"):
            failing_wf(n=1)
    assert BODIES == [1, 1]
    assert get_runtime().meta.list_cache(task=failing.name) == []


EDITED = """
import airfoil as af


@af.task
def inner(x: int) -> int:
    return x + @@


@af.dynamic(cache=True)
def dyn(n: int) -> int:
    return inner(x=n)


@af.workflow
def wf(n: int = 1) -> int:
    return dyn(n=n)
"""


def _run_edited(project: Path, home: Path, step: str) -> dict[str, Any]:
    (project / "flow.py").write_text(EDITED.replace("@@", step))
    proc = subprocess.run(
        [sys.executable, "-m", "airfoil.cli", "run", "--json", "flow.py", "wf"],
        capture_output=True,
        text=True,
        cwd=project,
        env=dict(os.environ, AIRFOIL_HOME=str(home)),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    (node,) = [n for n in out["nodes"] if n["id"] == "n0"]
    return {"cache": node["cache"], "out": out["outputs"]}


def test_an_edit_to_a_task_the_dynamic_calls_is_a_miss(tmp_path: Path) -> None:
    """The dynamic's version covers the tasks its body calls: after the user edits one, the
    next run (a fresh process, as a user's) builds and runs the graph again, never serving
    the old graph's result."""
    project, home = tmp_path / "proj", tmp_path / "home"
    project.mkdir()
    first = _run_edited(project, home, "1")
    assert first["cache"] == "put" and first["out"] == {"o0": 2}, first
    again = _run_edited(project, home, "1")
    assert again["cache"] == "hit" and again["out"] == {"o0": 2}, again
    edited = _run_edited(project, home, "2")
    assert edited["cache"] == "put" and edited["out"] == {"o0": 3}, edited
