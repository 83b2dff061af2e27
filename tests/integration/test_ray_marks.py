"""Every test that runs on Ray is marked ``ray``, whatever its parameter is called: ``pytest -m
ray`` is the whole Ray tier (what it adds to ``make test`` is measured with it) and ``-m "not
ray"`` leaves Ray out. The executor harnesses are fixtures parametrised ``["process", "ray"]``
(``hx``, ``flow``): their ray cases were not marked (only parameters named ``executor`` or
``kind`` were), so twenty tests on the session's Ray ran under ``-m "not ray"``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

FILES = (
    "tests/integration/executors/test_process_executor.py",  # the `hx` harness fixture
    "tests/integration/control/test_composition_process.py",  # the `flow` fixture
    "tests/integration/engine/test_hooks.py",  # an `executor` parameter
)


def _collect(repo_root: Path, marks: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-m", marks, *FILES],
        cwd=repo_root, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [line for line in done.stdout.splitlines() if "::" in line]


def _params(test_id: str) -> list[str]:
    """The parameter ids of a collected test (``t[ray-x]`` -> ``["ray", "x"]``)."""
    return test_id.partition("[")[2].rstrip("]").split("-")


def _on_process(test_id: str) -> str:
    """The same test's id with its ``ray`` parameter as ``process``."""
    name, _, _ = test_id.partition("[")
    params = ["process" if p == "ray" else p for p in _params(test_id)]
    return f"{name}[{'-'.join(params)}]"


def test_tests_run_on_ray_are_marked_ray_whatever_their_parameter_is_called(
    repo_root: Path,
) -> None:
    on_ray = _collect(repo_root, "ray")
    not_on_ray = _collect(repo_root, "not ray")
    ran = [t for t in not_on_ray if "ray" in _params(t)]
    assert not ran, f"tests on Ray ran under -m 'not ray': {ran}"
    assert on_ray and all("ray" in _params(t) for t in on_ray), on_ray
    for name in FILES:
        on, off = ({t for t in ids if t.startswith(name)} for ids in (on_ray, not_on_ray))
        assert {_on_process(t) for t in on} <= off, name
    harness = [t for t in on_ray if t.startswith(FILES[0])]
    assert len(harness) >= 10, harness  # the shared promises, each on Ray too
