"""An engine's own caller may leave a defaulted input out of a launch; one with no default is
refused at the launch, by name, and nothing is written. Before, both were launched and the
run failed at its start with "internal error in the engine: KeyError" (an engine bug, it
said), the missing input's name buried in a traceback."""

from __future__ import annotations

import msgspec
import pytest

import airfoil as af
from airfoil.core.errors import InvalidInputError
from airfoil.core.records import Value, WorkflowSpec
from airfoil.local import convert_inputs, get_runtime, spec_of

pytestmark = pytest.mark.integration


@af.task
def add(x: int, y: int) -> int:
    return x + y


@af.workflow
def defaulted(x: int, y: int = 2) -> int:
    return add(x=x, y=y)


@af.task
def or_zero(x: int | None) -> int:
    return 0 if x is None else x


@af.workflow
def none_default(x: int | None = None) -> int:
    return or_zero(x=x)


def test_a_defaulted_input_left_out_takes_its_default() -> None:
    rt = get_runtime()
    engine = rt.engine("inline")
    inputs = convert_inputs(defaulted, {"x": 40}, rt)
    inputs.pop("y", None)  # as an engine's own caller may launch it
    record = engine.launch(spec_of(defaulted), inputs)
    ended = engine.drive(record.id)
    assert ended.phase == "succeeded", ended.error
    assert ended.inputs["y"].inline == b"2"


def _refused_at_the_launch(spec: WorkflowSpec, inputs: dict[str, Value], match: str) -> None:
    """The launch raises ``InvalidInputError`` matching ``match`` and writes nothing."""
    rt = get_runtime()
    engine = rt.engine("inline")
    before = len(rt.meta.list_executions(limit=100))
    with pytest.raises(InvalidInputError, match=match):
        engine.launch(spec, inputs)
    assert len(rt.meta.list_executions(limit=100)) == before  # nothing written


def test_an_input_with_no_default_is_refused_at_the_launch_by_name() -> None:
    _refused_at_the_launch(spec_of(defaulted), {}, "needs input 'x'")


def _stored_without_its_default(wf: object) -> WorkflowSpec:
    """The workflow's spec as a spec registered from elsewhere may say it: "has a default",
    with no value stored (a ``None`` default)."""
    spec = spec_of(wf)
    params = tuple(msgspec.structs.replace(p, default=None) for p in spec.interface.inputs)
    return msgspec.structs.replace(
        spec, interface=msgspec.structs.replace(spec.interface, inputs=params)
    )


def test_a_none_default_with_no_stored_value_is_bound_as_the_binder_binds_it() -> None:
    """Before, the launch left such an input unbound and the run failed at its start with
    "internal error in the engine: KeyError: 'x'"."""
    rt = get_runtime()
    engine = rt.engine("inline")
    record = engine.launch(_stored_without_its_default(none_default), {})
    assert record.inputs == convert_inputs(none_default, {}, rt)  # the same null value
    ended = engine.drive(record.id)
    assert ended.phase == "succeeded", ended.error
    assert ended.outputs["o0"].inline == b"0"


def test_a_none_default_its_type_does_not_admit_is_refused_at_the_launch() -> None:
    _refused_at_the_launch(_stored_without_its_default(defaulted), {"x": engine_int(40)}, "'y'")


def engine_int(n: int) -> Value:
    return convert_inputs(add, {"x": n, "y": 0}, get_runtime())["x"]
