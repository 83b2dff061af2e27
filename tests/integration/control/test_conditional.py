"""af.conditional: branches decided at run time, skipped branches recorded, outputs typed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import airfoil as af
from airfoil.core.errors import BindingTypeError, DefinitionError, PromiseMisuseError
from airfoil.local import get_runtime

pytestmark = pytest.mark.integration


@af.task
def double(x: int) -> int:
    return 2 * x


@af.task
def negate(x: int) -> int:
    return -x


@af.task
def label(x: int) -> str:
    return f"small {x}"


@af.task
def is_even(x: int) -> bool:
    return x % 2 == 0


@af.task
def maybe(x: int) -> int | None:
    return None if x < 0 else x


@af.workflow
def classify(x: int) -> int:
    return (
        af.conditional("size")
        .if_(x > 100)
        .then(double(x=double(x=x)))
        .elif_((x > 10) & (x <= 100))
        .then(double(x=x))
        .elif_(is_even(x=x).is_true() | (x == 3))
        .then(negate(x=x))
        .else_()
        .fail("x must be more than 10, even, or 3")
    )


@af.workflow
def nested(x: int) -> int:
    first = (
        af.conditional("outer")
        .if_(x > 0)
        .then(af.conditional("inner").if_(x > 5).then(double(x=x)).else_().then(negate(x=x)))
        .else_()
        .then(x)
    )
    return double(x=first)


@af.workflow
def on_optional(x: int) -> str:
    m = maybe(x=x)
    return af.conditional("none?").if_(m.is_none()).then(label(x=0)).else_().then(label(x=x))


def _latest_nodes() -> dict[str, tuple[str, int]]:
    rt = get_runtime()
    record = rt.meta.list_executions(limit=1)[0]
    return {n.node_id: (n.phase, n.branch_taken) for n in rt.meta.get_nodes(record.id)}


def test_each_case_is_taken_and_the_others_skipped() -> None:
    assert classify(x=200) == 800
    nodes = _latest_nodes()
    branch = next(k for k, v in nodes.items() if v[1] >= 0)
    assert nodes[branch] == ("succeeded", 0)
    assert nodes[f"{branch}.c0.n0"][0] == "succeeded"
    assert nodes[f"{branch}.c1.n0"][0] == "skipped"
    assert classify(x=50) == 100
    assert classify(x=4) == -4
    assert classify(x=3) == -3
    with pytest.raises(af.ExecutionFailedError, match="must be more than 10"):
        classify(x=7)


def test_nested_conditionals_and_constant_case() -> None:
    assert nested(x=7) == 28
    assert nested(x=2) == -4
    assert nested(x=-1) == -2


def test_is_none_on_optional() -> None:
    assert on_optional(x=-5) == "small 0"
    assert on_optional(x=5) == "small 5"


def test_definition_errors() -> None:
    with pytest.raises(PromiseMisuseError, match=r"af\.conditional"):

        @af.workflow
        def bad_if(x: int) -> int:
            if x > 3:
                return double(x=x)
            return x

    with pytest.raises(BindingTypeError, match="bad condition"):

        @af.workflow
        def bad_types(x: int) -> int:
            return af.conditional("c").if_(x == "three").then(x).else_().then(x)

    with pytest.raises(BindingTypeError):

        @af.workflow
        def mismatched(x: int) -> int:
            return af.conditional("c").if_(x > 1).then(double(x=x)).else_().then(label(x=x))

    with pytest.raises(BindingTypeError, match=r"is_true\(\)"):

        @af.workflow
        def not_bool(x: int) -> int:
            return af.conditional("c").if_(x.is_true()).then(x).else_().then(x)

    with pytest.raises(DefinitionError, match="inside a workflow"):
        af.conditional("outside")


def test_no_matching_case_without_else_fails_clearly() -> None:
    @af.workflow
    def only_if(x: int) -> int:
        return af.conditional("only").if_(x > 0).then(double(x=x))

    assert only_if(x=2) == 4
    with pytest.raises(af.ExecutionFailedError, match="no case of conditional 'only' holds"):
        only_if(x=-2)


ORDER: list[str] = []


@af.task
def first_step() -> None:
    ORDER.append("first")


@af.task
def second_step(x: int) -> int:
    ORDER.append("second")
    return x


def test_ordering_without_data() -> None:
    @af.workflow
    def ordered(x: int = 1) -> int:
        done = first_step()
        out = second_step(x=x)
        done >> out
        return out

    spec_node = ordered.spec.nodes[1]
    assert spec_node.upstream == ("n0",)
    ORDER.clear()
    assert ordered(x=3) == 3
    assert ORDER == ["first", "second"]
    with pytest.raises(DefinitionError, match="orders two nodes"):

        @af.workflow
        def bad_order(x: int = 1) -> int:
            first_step() >> 3
            return second_step(x=x)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_control_flow_example_reviewed_in_its_docstrings_order(tmp_path: Path) -> None:
    """Issue 12's blocker: examples/control_flow.py ``reviewed``, signals in the order its
    docstring gives (the threshold before the approval its case returns)."""
    example = Path(__file__).parents[3] / "examples" / "control_flow.py"
    env = dict(os.environ, AIRFOIL_HOME=str(tmp_path / "home"))
    cli = [sys.executable, "-m", "airfoil.cli"]
    run = subprocess.Popen(
        [*cli, "run", "--name", "rev1", "--json", str(example), "reviewed", "--n", "5"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for name, value in (("threshold", "3.5"), ("ship", "true")):
            deadline = time.time() + 60
            while True:
                sent = subprocess.run(
                    [*cli, "signal", "rev1", name, value],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                if sent.returncode == 0:
                    break
                assert time.time() < deadline and run.poll() is None, sent.stderr
                time.sleep(0.2)
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, err
    assert json.loads(out)["outputs"] == {"o0": 10}
