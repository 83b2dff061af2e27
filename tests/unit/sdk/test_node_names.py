"""Naming a call's node: ``task.with_name(...)`` and ``with_overrides(name=...)``, so four
calls of one task can be told apart in the console and the CLI."""

from __future__ import annotations

from typing import NamedTuple

import pytest

import airfoil as af
from airfoil.core.errors import DefinitionError, PromiseMisuseError


@af.task
def train(model: str, c: float = 1.0) -> float:
    return c


class Scores(NamedTuple):
    best: float
    worst: float


@af.task
def pick(a: float, b: float) -> Scores:
    return Scores(max(a, b), min(a, b))


@af.workflow
def sweep() -> float:
    lr = train.with_name("logistic")(model="lr")
    svm = train(model="svm").with_overrides(name="svm, C=1")
    plain = train(model="tree")
    chosen = (
        af.conditional("big")
        .if_(lr > 0.5)
        .then(train.with_name("refit")(model="lr", c=0.5))
        .else_()
        .then(train(model="none"))
    )
    scores = pick(a=svm, b=plain).with_overrides(name="pick best")
    return pick(a=scores.best, b=chosen).best


def test_calls_name_their_nodes() -> None:
    labels = {n.id: n.label for n in sweep.spec.nodes}
    assert labels["n0"] == "logistic"
    assert labels["n1"] == "svm, C=1"
    assert labels["n2"] == "train"  # unnamed: the task's short name, as before
    assert labels["n4"] == "pick best"
    cases = next(n for n in sweep.spec.nodes if n.kind == "branch").cases
    assert [n.label for n in cases[0].nodes] == ["refit"]
    assert [n.label for n in cases[1].nodes] == ["train"]


def test_a_named_task_is_still_the_task() -> None:
    named = train.with_name("lr")
    assert named.name == train.name and named.spec == train.spec
    assert named.run_python(model="x", c=2.0) == 2.0
    assert train._node_label is None  # the original is untouched


def test_a_name_changes_the_workflow_version_not_the_task() -> None:
    @af.workflow
    def one() -> float:
        return train.with_name("a")(model="m")

    @af.workflow
    def two() -> float:
        return train.with_name("b")(model="m")

    assert one.spec.nodes[0].task == two.spec.nodes[0].task
    assert one.spec.nodes[0].label != two.spec.nodes[0].label


@pytest.mark.parametrize("bad", ["", "   ", "a\nb", "x" * 81, 3])
def test_bad_names_are_definition_errors(bad: object) -> None:
    with pytest.raises(DefinitionError, match="node name"):
        train.with_name(bad)  # type: ignore[arg-type]

    with pytest.raises(DefinitionError, match="node name"):

        @af.workflow
        def wf() -> float:
            return train(model="m").with_overrides(name=bad)  # type: ignore[arg-type]


def test_only_a_calls_outputs_can_be_named() -> None:
    with pytest.raises(PromiseMisuseError, match="only the outputs of a call"):

        @af.workflow
        def wf(x: float) -> float:
            return pick(a=x.with_overrides(name="x"), b=x).best  # type: ignore[attr-defined]


@af.workflow
def inner(model: str) -> float:
    return train(model=model)


def test_a_subworkflow_call_can_be_named() -> None:
    @af.workflow
    def outer() -> float:
        inner.with_name("first pass")(model="a")
        return inner(model="b").with_overrides(name="second pass")

    assert [(n.kind, n.label) for n in outer.spec.nodes] == [
        ("workflow", "first pass"),
        ("workflow", "second pass"),
    ]
    assert inner._node_label is None


@af.task
def _scale(x: int) -> int:
    return 2 * x


def test_a_map_nodes_overrides_apply_to_every_item() -> None:
    """``map_task(t)(x=xs).with_overrides(requests=...)`` (flytekit's idiom) sets the settings
    each item runs with; it was refused as 'a map node'."""

    @af.workflow
    def wf(xs: list[int]) -> list[int]:
        return af.map_task(_scale)(x=xs).with_overrides(
            requests=af.Resources(cpu=2, mem="1Gi"), retries=3
        )

    (node,) = wf.spec.nodes
    assert node.kind == "map" and node.task is not None
    assert node.task.retries == 3
    assert node.task.requests is not None and node.task.requests.cpu == 2
    assert _scale.spec.retries == 0  # the task itself is unchanged
    assert wf(xs=[1, 2]) == [2, 4]
