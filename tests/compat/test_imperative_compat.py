"""flytekit's imperative ``Workflow``: its failure handler takes flytekit's signature."""

from __future__ import annotations

import pytest

import airfoil as af
from airfoil.compat.flytekit import Workflow, task
from airfoil.compat.flytekit.types.error import FlyteError


@task
def fragile(x: int) -> int:
    if x > 1:
        raise ValueError("too big")
    return x


def test_the_flytekit_builder_adapts_its_handler() -> None:
    seen: list[bool] = []

    @task
    def fk_cleanup(x: int, err: FlyteError | None = None) -> None:
        seen.append(err is not None)

    wb = Workflow(name="fk_guarded")
    wb.add_workflow_input("x", int)
    wb.add_entity(fragile, x=wb.inputs["x"])
    wb.add_on_failure_handler(fk_cleanup)
    with pytest.raises(af.ExecutionFailedError):
        wb(x=3)
    assert seen == [True]


@task
def shout(word: str) -> str:
    return word.upper()


@task
def whisper(word: str) -> str:
    return word.lower()


@task
def length(word: str) -> int:
    return len(word)


def _words_workflow(name: str) -> Workflow:
    wb = Workflow(name=name)
    word = wb.add_workflow_input("word", str)
    loud = wb.add_workflow_input("loud", bool)
    n = wb.add_entity(length, word=word)
    c = wb.create_conditional("volume")
    out = (
        c.if_(loud.is_true() & (n.o0 < 6))
        .then(shout(word=word))
        .elif_(n.o0 >= 6)
        .then(whisper(word=word))
        .else_()
        .fail("quiet short words are not allowed")
    )
    wb.add_workflow_output("said", out)
    return wb


def test_create_conditional_branches_on_inputs_and_outputs() -> None:
    wb = _words_workflow("volume_wf")
    assert wb(word="Hello", loud=True) == "HELLO"
    assert wb(word="Goodbye", loud=True) == "goodbye"
    with pytest.raises(af.ExecutionFailedError, match="quiet short words are not allowed"):
        wb(word="Hi", loud=False)
    kinds = [n.kind for n in wb.spec.nodes]
    assert "branch" in kinds or "conditional" in kinds, kinds


def test_create_conditional_mistakes_are_definition_errors() -> None:
    wb = Workflow(name="unfinished_wf")
    x = wb.add_workflow_input("x", str)
    c = wb.create_conditional("half")
    c.if_(x == "a").then(shout(word=x))
    with pytest.raises(af.DefinitionError, match=r"conditional 'half' .* is not finished"):
        wb.add_workflow_output("o", x)
    c.else_().then(whisper(word=x))
    with pytest.raises(af.DefinitionError, match="out of order"):
        c.else_()
    wb2 = Workflow(name="bad_cond_wf")
    y = wb2.add_workflow_input("y", int)
    c2 = wb2.create_conditional("c2")
    with pytest.raises(af.DefinitionError, match="takes a comparison"):
        c2.if_(True)
    with pytest.raises(af.DefinitionError, match="decided when the workflow runs"):
        bool(y > 1)
    with pytest.raises(af.DefinitionError, match="then\\(\\) takes a call"):
        c2.if_(y > 1).then(3)


def test_an_unfinished_conditional_does_not_capture_plain_calls() -> None:
    wb = Workflow(name="abandoned_wf")
    x = wb.add_workflow_input("x", str)
    wb.create_conditional("abandoned").if_(x == "a")
    assert shout(word="still runs") == "STILL RUNS"
