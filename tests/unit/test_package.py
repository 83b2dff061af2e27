"""The package surface: import is fast and has no side effects; the public names are curated."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

PUBLIC = [
    "CronSchedule",
    "FixedRate",
    "LaunchPlan",
    "LogNotification",
    "Webhook",
    "AirfoilError",
    "AirfoilSettings",
    "DefinitionError",
    "Directory",
    "ExecutionContext",
    "ExecutionFailedError",
    "FailureInfo",
    "File",
    "ImperativeWorkflow",
    "Resources",
    "TaskDef",
    "TypeEngine",
    "UserError",
    "WorkflowDef",
    "__version__",
    "approve",
    "conditional",
    "container_task",
    "create_node",
    "current_context",
    "dynamic",
    "gather",
    "map_task",
    "on_artifact",
    "shell_task",
    "sleep",
    "sql_task",
    "task",
    "training_task",
    "wait_for_input",
    "workflow",
]

PROBE = r"""
import json, os, sys, threading, time
before_threads = threading.active_count()
home = os.environ["AIRFOIL_HOME"]
t0 = time.perf_counter()
import airfoil
elapsed = time.perf_counter() - t0
heavy = sorted(m for m in ("pandas", "numpy", "pyarrow", "sqlalchemy", "pydantic", "typer",
                           "rich", "fsspec", "polars") if m in sys.modules)
print(json.dumps({"elapsed": elapsed, "threads": threading.active_count() - before_threads,
                  "home_exists": os.path.exists(home), "heavy": heavy}))
"""


def test_import_is_fast_and_has_no_side_effects(tmp_path: object) -> None:
    import compileall
    import os

    import airfoil

    # Measure a warm install (bytecode compiled), as users run it: with
    # PYTHONDONTWRITEBYTECODE set and no .pyc, every import would compile from source.
    compileall.compile_dir(os.path.dirname(airfoil.__file__), quiet=1)
    env = dict(os.environ, AIRFOIL_HOME=str(tmp_path) + "/home")
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(3)
    ]
    best = min(r["elapsed"] for r in runs)
    assert best < 0.150, f"import airfoil took {best * 1000:.0f} ms"
    for r in runs:
        assert r["threads"] == 0
        assert not r["home_exists"], "importing airfoil must not create files"
        assert r["heavy"] == [], f"importing airfoil pulled in {r['heavy']}"


def test_public_names_snapshot() -> None:
    import airfoil

    assert sorted(airfoil.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert getattr(airfoil, name) is not None
    with pytest.raises(AttributeError):
        airfoil.nope  # type: ignore[attr-defined]  # noqa: B018
