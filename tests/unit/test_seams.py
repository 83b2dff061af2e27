"""The layers are crossed by injection: no import-by-string, and the injected seams work."""

from __future__ import annotations

import pathlib
import re

import pytest

import airfoil as af
from airfoil.core import local_runner
from airfoil.core.errors import ConfigError

pytestmark = pytest.mark.unit

SRC = pathlib.Path(af.__file__).parent


def test_no_layer_is_crossed_by_an_import_string() -> None:
    pattern = re.compile(r"import_module\(\s*[\"']airfoil")
    found = [
        f"{path.relative_to(SRC)}:{n}"
        for path in SRC.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[object, tuple[object, ...], dict[str, object]]] = []

    def call_entity(
        self, entity: object, args: tuple[object, ...], kwargs: dict[str, object]
    ) -> object:
        self.calls.append((entity, args, kwargs))
        return "recorded"

    def call_launch_plan(self, plan: object, inputs: dict[str, object]) -> object:
        self.calls.append((plan, (), inputs))
        return "plan recorded"


@af.task
def _double(x: int) -> int:
    return 2 * x


def test_a_task_called_as_a_function_runs_through_the_installed_runner() -> None:
    recorder = _Recorder()
    previous = local_runner.install_local_runner(recorder)
    try:
        assert _double(3) == "recorded"
    finally:
        local_runner.install_local_runner(previous)
    assert recorder.calls == [(_double, (3,), {})]


def test_without_a_runner_the_error_says_how_to_install_one() -> None:
    previous = local_runner.install_local_runner(None)
    try:
        with pytest.raises(ConfigError, match="install_local_runner"):
            _double(3)
    finally:
        local_runner.install_local_runner(previous)


def test_importing_airfoil_installs_the_embedded_engine_lazily() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, airfoil; from airfoil.core.local_runner import local_runner; "
        "local_runner(); print('airfoil.local' in sys.modules, 'airfoil.engine.runner' in "
        "sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]
