"""Tuple outputs, one-field NamedTuples returned bare, bare list/dict annotations, task mocks."""

from __future__ import annotations

import typing

import pytest

import airfoil as af
from airfoil.core.errors import DefinitionError, ExecutionFailedError
from airfoil.testing.mocking import patch, replaced_task, task_mock


class Total(typing.NamedTuple):
    total: int


class Pair(typing.NamedTuple):
    pair: tuple[int, int]


@af.task
def split(x: int) -> tuple[int, str]:
    return x + 1, f"#{x}"


@af.task
def total(x: int) -> Total:
    return x * 2  # type: ignore[return-value]  # a bare value for the one field


@af.task
def pair(x: int) -> Pair:
    return (x, x)  # type: ignore[return-value]  # the field's own tuple, returned bare


@af.task
def bag(d: dict, items: list) -> dict:  # type: ignore[type-arg]
    return {"n": len(items), **d}


@af.workflow
def unpacked(x: int) -> tuple[int, str, int]:
    a, b = split(x=x)
    return a, b, total(x=a).total


def test_tuple_return_is_several_outputs() -> None:
    assert [p.name for p in split.interface.outputs] == ["o0", "o1"]
    assert split.interface.output_style == "tuple"
    assert split(x=1) == (2, "#1")
    assert unpacked(x=4) == (5, "#4", 10)


def _split_literal(x: int):  # type: ignore[no-untyped-def]
    return x + 1, f"#{x}"


def _literal_wf(x: int):  # type: ignore[no-untyped-def]
    a, b = split_literal(x=x)
    return a, b


# flytekit's `-> (A, B)` (a module without `from __future__ import annotations`)
_split_literal.__annotations__ = {"x": int, "return": (int, str)}
_literal_wf.__annotations__ = {"x": int, "return": (int, str)}
split_literal = af.task(_split_literal)
literal_wf = af.workflow(_literal_wf)


def test_a_tuple_of_types_as_the_return_annotation_is_several_outputs() -> None:
    # flytesnacks writes `def wf(...) -> (Datum, Result)`: was "unsupported type annotation"
    assert [p.name for p in split_literal.interface.outputs] == ["o0", "o1"]
    assert [p.name for p in literal_wf.interface.outputs] == ["o0", "o1"]
    assert literal_wf(x=1) == (2, "#1")


def test_variable_length_tuple_stays_one_output() -> None:
    @af.task
    def many(n: int) -> tuple[int, ...]:
        return tuple(range(n))

    assert many.interface.output_style == "single"
    assert many(n=3) == (0, 1, 2)


def test_one_field_namedtuple_may_return_the_bare_value() -> None:
    assert total(x=3) == Total(total=6)
    assert pair(x=2) == Pair(pair=(2, 2))


def test_bare_list_and_dict_annotations() -> None:
    assert bag(d={"k": [1]}, items=[1, "a", None]) == {"n": 3, "k": [1]}


def test_task_mock_replaces_the_task_in_a_workflow() -> None:
    with task_mock(split) as fake:
        fake.return_value = (100, "mocked")
        assert unpacked(x=1) == (100, "mocked", 200)
    fake.assert_called_once_with(x=1)
    assert unpacked(x=1) == (2, "#1", 4)  # the real task again afterwards


def test_a_mocked_task_leaves_the_cache_alone() -> None:
    calls: list[int] = []

    @af.task(cache=True)
    def square(x: int) -> int:
        calls.append(x)
        return x * x

    assert square(x=3) == 9
    with replaced_task(square, lambda x: -1):
        assert square(x=3) == -1  # not the cached 9
    assert square(x=3) == 9  # not the mocked -1
    assert calls == [3]


@patch(total)
def test_patch_passes_the_mock(fake: typing.Any) -> None:
    fake.return_value = Total(total=7)
    assert unpacked(x=0) == (1, "#0", 7)


def test_a_mock_returning_a_bad_value_fails_the_node() -> None:
    with task_mock(split) as fake:
        fake.return_value = "not a tuple"
        with pytest.raises(ExecutionFailedError, match="must return a tuple"):
            unpacked(x=1)


def test_only_tasks_can_be_mocked() -> None:
    with pytest.raises(DefinitionError, match="only a task can be mocked"), task_mock(unpacked):
        pass
    with pytest.raises(DefinitionError, match="last positional argument"):
        patch(split)(lambda: None)
