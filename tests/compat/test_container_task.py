"""flytekit's ContainerTask on Airfoil: the image is recorded, the command runs locally with
its inputs templated and written to input_data_dir, its outputs read from output_data_dir."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from airfoil.compat.flytekit import ContainerTask, kwtypes, task, workflow
from airfoil.compat.flytekit.types.file import FlyteFile
from airfoil.core.errors import DefinitionError, ExecutionFailedError

SCRIPT = """
import sys, pathlib
a, b, out = float(sys.argv[1]), float(sys.argv[2]), pathlib.Path(sys.argv[3])
(out / "area").write_text(str(round(3.0 * a * b, 2)))
(out / "metadata").write_text("from the command\\n")
inputs = pathlib.Path(sys.argv[4])  # input_data_dir, mapped to a local directory
(out / "notes").write_text((inputs / "a").read_text())
print("computed", a, b)
"""

area = ContainerTask(
    name="ellipse-area",
    input_data_dir="/var/inputs",
    output_data_dir="/var/outputs",
    inputs=kwtypes(a=float, b=float),
    outputs=kwtypes(area=float, metadata=str, notes=FlyteFile),
    image="ghcr.io/example/shell:v2",
    command=[sys.executable, "-c", SCRIPT],
    arguments=["{{.inputs.a}}", "{{ .inputs.b }}", "/var/outputs", "/var/inputs"],
)

failing = ContainerTask(
    name="fails",
    inputs=kwtypes(n=int),
    outputs=kwtypes(x=int),
    image="busybox",
    command=[sys.executable, "-c", "import sys; sys.exit('bad input ' + sys.argv[1])"],
    arguments=["{{.inputs.n}}"],
)


@task
def report(area: float, metadata: str, notes: FlyteFile) -> str:
    return f"{area} {metadata} {Path(notes.path).read_text()}"


@workflow
def wf(a: float = 2.0, b: float = 3.0) -> str:
    r = area(a=a, b=b)
    return report(area=r.area, metadata=r.metadata, notes=r.notes)


def test_the_command_runs_with_its_inputs_and_outputs() -> None:
    assert wf() == "18.0 from the command 2.0"
    assert area.flyte_options["container_image"] == "ghcr.io/example/shell:v2"
    assert area.spec.config["image"] == "ghcr.io/example/shell:v2"
    assert [p.name for p in area.interface.outputs] == ["area", "metadata", "notes"]


def test_a_failing_command_fails_the_run_with_its_stderr() -> None:
    @workflow
    def bad(n: int = 7) -> int:
        return failing(n=n).x

    with pytest.raises(ExecutionFailedError, match="exited with status 1: bad input 7"):
        bad()


def test_a_placeholder_must_name_an_input() -> None:
    with pytest.raises(DefinitionError, match=r"\{\{.inputs.c\}\} names no input"):
        ContainerTask(name="x", image="i", command=["echo", "{{.inputs.c}}"], inputs={})
