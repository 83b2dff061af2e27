"""An engine's own caller may leave a defaulted input out of a launch; one with no default is
refused at the launch, by name, and nothing is written. Before, both were launched and the
run failed at its start with "internal error in the engine: KeyError" (an engine bug, it
said), the missing input's name buried in a traceback."""

from __future__ import annotations

import pytest

import airfoil as af
from airfoil.core.errors import InvalidInputError
from airfoil.local import convert_inputs, get_runtime, spec_of

pytestmark = pytest.mark.integration


@af.task
def add(x: int, y: int) -> int:
    return x + y


@af.workflow
def defaulted(x: int, y: int = 2) -> int:
    return add(x=x, y=y)


def test_a_defaulted_input_left_out_takes_its_default() -> None:
    rt = get_runtime()
    engine = rt.engine("inline")
    inputs = convert_inputs(defaulted, {"x": 40}, rt)
    inputs.pop("y", None)  # as an engine's own caller may launch it
    record = engine.launch(spec_of(defaulted), inputs)
    ended = engine.drive(record.id)
    assert ended.phase == "succeeded", ended.error
    assert ended.inputs["y"].inline == b"2"


def test_an_input_with_no_default_is_refused_at_the_launch_by_name() -> None:
    rt = get_runtime()
    engine = rt.engine("inline")
    before = len(rt.meta.list_executions(limit=100))
    with pytest.raises(InvalidInputError, match="needs a value for 'x'"):
        engine.launch(spec_of(defaulted), {})
    assert len(rt.meta.list_executions(limit=100)) == before  # nothing written
