"""The 64-bit rule of a run's int inputs holds for what a caller hands a child, locally and
on a server, in one wording: a ``@dynamic`` body calling a task, a sub-workflow or
``map_task`` with a constant past 64 bits fails its run naming the input and the fix, as a
task calling a task already did (main: the dynamic body's children ran with the big int,
locally and on the server, where a launch with it was refused with a 422)."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from airfoil.core.errors import ExecutionFailedError

pytestmark = pytest.mark.integration

FLOW = """
import airfoil as af


@af.task
def inc(x: int) -> int:
    return x + 1


@af.workflow
def sub(x: int) -> int:
    return inc(x=x)


@af.dynamic
def dyn_task(n: int) -> int:
    return inc(x=2**70 + n)


@af.dynamic
def dyn_sub(n: int) -> int:
    return sub(x=-(2**63) - 1 - n)


@af.dynamic
def dyn_map(n: int) -> list[int]:
    return af.map_task(inc)(x=[n, 2**70])


@af.dynamic
def dyn_edges(n: int) -> list[int]:
    return af.map_task(inc)(x=[2**63 - 2 + n, -(2**63)])


@af.task
def caller(n: int) -> int:
    return inc(x=2**70 + n)


@af.workflow
def wf_dyn_task(n: int = 0) -> int:
    return dyn_task(n=n)


@af.workflow
def wf_dyn_sub(n: int = 0) -> int:
    return dyn_sub(n=n)


@af.workflow
def wf_dyn_map(n: int = 0) -> list[int]:
    return dyn_map(n=n)


@af.workflow
def wf_edges(n: int = 0) -> list[int]:
    return dyn_edges(n=n)


@af.workflow
def wf_caller(n: int = 0) -> int:
    return caller(n=n)
"""

CASES = {
    "wf_dyn_task": ("input 'x' of child_rule_flow.inc", 22),
    "wf_dyn_sub": ("input 'x' of child_rule_flow.sub", 19),
    "wf_dyn_map": ("input 'x'[1] of map_child_rule_flow.inc", 22),
    "wf_caller": ("input 'x'", 22),
}


@pytest.fixture(scope="module")
def rule_flow(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from airfoil.cli._load import load_entity

    root = tmp_path_factory.mktemp("childruleproj")
    (root / "child_rule_flow.py").write_text(FLOW)
    load_entity(str(root / "child_rule_flow.py"), "wf_dyn_task")
    return sys.modules["child_rule_flow"]


def _said(text: str, where: str, digits: int) -> None:
    assert where in text, text
    assert f"is an integer of {digits} digits, outside the signed 64-bit range" in text, text
    assert "pass a larger number as a str" in text, text


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_child_input_outside_64_bits_fails_locally_as_on_a_server(
    client: Any, rule_flow: Any, name: str
) -> None:
    where, digits = CASES[name]
    wf = getattr(rule_flow, name)
    with pytest.raises(ExecutionFailedError) as local:
        wf()
    _said(str(local.value), where, digits)

    client.register([wf])
    ex = client.launch(wf, {})
    done = client.wait(ex.id, timeout=90)
    assert done.phase == "failed" and done.error is not None, done
    _said(done.error.message, where, digits)


def test_the_edges_of_the_range_still_run_locally_and_on_a_server(
    client: Any, rule_flow: Any
) -> None:
    assert rule_flow.wf_edges() == [2**63 - 1, -(2**63) + 1]
    client.register([rule_flow.wf_edges])
    ex = client.launch(rule_flow.wf_edges, {})
    assert client.wait(ex.id, timeout=90).phase == "succeeded"
    assert client.outputs(ex.id, rule_flow.wf_edges) == [2**63 - 1, -(2**63) + 1]
