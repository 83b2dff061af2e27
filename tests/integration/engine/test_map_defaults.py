"""A map_task call that leaves out an input with a default runs every item with that default,
as a call of the task itself would. On main it was a definition error: ``map_...size needs
input 'extra' (list[int | none]) but it is not given``."""

from __future__ import annotations

import functools

import pytest

import airfoil as af
from airfoil.core.errors import MissingInputError

pytestmark = pytest.mark.integration


@af.task
def scale(x: int, factor: int = 10, offset: int | None = None) -> int:
    return x * factor + (offset or 0)


@af.workflow
def defaults_for_every_item(xs: list[int]) -> list[int]:
    return af.map_task(scale)(x=xs)


@af.workflow
def one_given_one_default(xs: list[int], factors: list[int]) -> list[int]:
    return af.map_task(scale, concurrency=2)(x=xs, factor=factors)


@af.workflow
def partial_and_default(xs: list[int]) -> list[int]:
    return af.map_task(functools.partial(scale, offset=1))(x=xs)


def test_inputs_left_out_of_a_map_take_the_tasks_defaults() -> None:
    assert defaults_for_every_item(xs=[1, 2, 3]) == [10, 20, 30]
    assert defaults_for_every_item(xs=[]) == []
    assert one_given_one_default(xs=[1, 2], factors=[2, 3]) == [2, 6]
    assert partial_and_default(xs=[1, 2]) == [11, 21]
    assert af.map_task(scale)(x=[4]) == [40]  # called outside a workflow too


def test_an_input_without_a_default_is_still_required() -> None:
    with pytest.raises(MissingInputError, match="needs input 'x'"):

        @af.workflow
        def no_items(factors: list[int]) -> list[int]:
            return af.map_task(scale)(factor=factors)
