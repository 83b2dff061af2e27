"""A task's output that does not fit its annotation is named in the failure.

Before 2026-12-07 a task with several outputs that returned a bad one failed with "returned a
bad output: expected float, got str 'high' (at value['acc'])", naming neither the output
(``metrics``, or ``o1`` of a ``tuple[int, str]``) nor the fix, and a tuple of the wrong
length was "must return a tuple (o0, o1), got tuple".
"""

from __future__ import annotations

import typing

import pytest

import airfoil as af
from airfoil.core.errors import ExecutionFailedError


class Scored(typing.NamedTuple):
    model: str
    metrics: dict[str, float]


@af.task
def _scored() -> Scored:
    return Scored("m", {"acc": "high"})  # type: ignore[dict-item]


@af.task
def _pair() -> tuple[int, str]:
    return (1, 2)  # type: ignore[return-value]


@af.task
def _triple() -> tuple[int, str]:
    return (1, "a", 3)  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("task", "says"),
    [
        (_scored, "output 'metrics' (dict[str, float]): expected float, got str 'high'"),
        (_pair, "output 'o1' (str): expected str, got int 2"),
        (_triple, "it must return a tuple (o0, o1), got a tuple of 3 items"),
    ],
    ids=["named-tuple", "tuple", "length"],
)
def test_a_bad_output_is_named_with_the_fix(task: typing.Any, says: str) -> None:
    with pytest.raises(ExecutionFailedError) as info:
        task()
    message = str(info.value)
    assert f"task {task.name!r} returned a bad output: {says}" in message
    assert "return what its annotation declares, or change the annotation" in message
