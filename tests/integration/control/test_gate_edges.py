"""Gates at their edges: signal types checked to their leaves when the workflow is defined,
gates of one name with other types, and gates inside a dynamic workflow's graph."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from _signals import send_when_waiting

import airfoil as af
from airfoil.core.errors import DefinitionError, InvalidInputError
from airfoil.engine.signals import send_signal
from airfoil.local import convert_inputs, get_runtime, spec_of

pytestmark = pytest.mark.integration


@af.task
def double(x: float) -> float:
    return x * 2


@af.task
def shout(x: str) -> str:
    return x.upper()


@pytest.mark.parametrize(
    ("expected_type", "part"),
    [
        (list[datetime], "datetime"),
        (dict[str, list[datetime]], "datetime"),
        (float | datetime, "datetime"),
        (list, "any"),
        (dict[str, Any], "any"),
    ],
)
def test_a_signal_type_is_checked_to_its_leaves(expected_type: Any, part: str) -> None:
    # Before, only the outer kind was checked: these workflows were defined, and every
    # `airfoil signal` to them failed with "signals of type datetime are not supported", so
    # the gate could only time out.
    with pytest.raises(DefinitionError, match=rf"not .*\(its {part} part\)"):

        @af.workflow
        def wf() -> int:
            af.wait_for_input("when", timeout=60, expected_type=expected_type)
            return 1


def test_signal_types_that_can_be_sent_are_defined() -> None:
    @af.workflow
    def wf() -> int:
        for i, tp in enumerate([list[float], dict[str, list[int]], float | None, bool]):
            af.wait_for_input(f"v{i}", timeout=60, expected_type=tp)
        return 1

    assert wf.spec.nodes[0].gate is not None


def test_gates_of_one_name_and_other_types_are_refused() -> None:
    # Before, both were defined; a signal was type-checked against one gate and reached
    # both: 'abc' checked as a str went to the float gate, whose task then failed.
    with pytest.raises(DefinitionError, match=r"gates named 't' wait for different types"):

        @af.workflow
        def mixed() -> float:
            a = af.wait_for_input("t", timeout=60, expected_type=float)
            shout(x=af.wait_for_input("t", timeout=60, expected_type=str))
            return double(x=a)

    @af.workflow
    def sub() -> str:
        return shout(x=af.wait_for_input("t", timeout=60, expected_type=str))

    with pytest.raises(DefinitionError, match=r"gates named 't' wait for different types"):

        @af.workflow
        def nested() -> float:
            sub()
            return double(x=af.wait_for_input("t", timeout=60, expected_type=float))


@af.workflow
def twice() -> float:
    a = af.wait_for_input("t", timeout=timedelta(seconds=20), expected_type=float)
    b = af.wait_for_input("t", timeout=timedelta(seconds=20), expected_type=float)
    return double(x=a) >> double(x=b)


@af.dynamic
def gated_inside(n: int) -> float:
    return double(x=af.wait_for_input("t", timeout=timedelta(seconds=20), expected_type=float))


@af.workflow
def with_dynamic(n: int = 1) -> float:
    return gated_inside(n=n)


@af.dynamic
def str_gate_inside(n: int) -> str:
    return shout(x=af.wait_for_input("t", timeout=timedelta(seconds=3), expected_type=str))


@af.workflow
def static_and_dynamic() -> float:
    shout_it = str_gate_inside(n=1)
    return shout_it >> double(x=af.wait_for_input("t", timeout=3, expected_type=float))


def test_gates_of_one_name_and_type_are_answered_together() -> None:
    t = send_when_waiting("t", "2.5")
    assert twice() == 5.0
    t.join(5)


def test_a_gate_inside_a_dynamic_workflow_can_be_signalled() -> None:
    # Before, send_signal looked for gates in the launched workflow's spec only: the CLI
    # printed "n0.n0 waits for 't': airfoil signal ID t VALUE", and that command answered
    # "has no gate named 't' (gates: none)" until the gate timed out.
    t = send_when_waiting("t", "4")
    assert with_dynamic(n=1) == 8.0
    t.join(5)


def test_a_dynamic_gate_of_another_type_than_a_static_one_is_refused_at_send() -> None:
    rt = get_runtime()
    record = rt.engine().launch(
        spec_of(static_and_dynamic), convert_inputs(static_and_dynamic, {}, rt)
    )
    # Only the static gate is known before the dynamic node has built its graph: its type
    # checks the value. Once the dynamic graph (with a str gate 't') exists, no value can
    # answer both, and the sender is told so instead of a str reaching the float gate.
    errors: list[Exception] = []
    done = threading.Event()

    def drive() -> None:
        try:
            rt.engine().drive(record.id)
        except Exception as exc:  # the gates time out: the run fails, as it should
            errors.append(exc)
        done.set()

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    deadline = time.time() + 10
    refused: InvalidInputError | None = None
    while time.time() < deadline and refused is None:
        nodes = {n.node_id: n for n in rt.meta.get_nodes(record.id)}
        if any(n.dynamic_spec is not None for n in nodes.values()):
            with pytest.raises(InvalidInputError, match="gates named 't' of different types") as ei:
                send_signal(rt.meta, rt.blobs, rt.types, record.id, "t", "1.5")
            refused = ei.value
        time.sleep(0.05)
    assert refused is not None
    thread.join(15)
    assert rt.meta.get_execution(record.id).phase == "failed"
