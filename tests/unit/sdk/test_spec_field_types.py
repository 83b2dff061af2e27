"""A task setting of the wrong type is a ``DefinitionError`` naming it, when the task is
defined. Before 2026-12-06 ``cache_version=2`` (an int) and ``environment={"N": 1}`` were
accepted into the task's spec, every run of a workflow calling the task then failed with
``msgspec.ValidationError: Expected `str`, got `int` - at `$.nodes[0].task.cache.version```
when the stored spec was read back, and so did ``airfoil executions list`` for the whole home."""

from __future__ import annotations

import re
from typing import Any

import pytest

import airfoil as af
from airfoil.core.errors import DefinitionError

pytestmark = pytest.mark.unit


def _define(**options: Any) -> Any:
    @af.task(**options)
    def inc(x: int) -> int:
        return x + 1

    return inc


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({"cache": True, "cache_version": 2}, "cache_version must be a string"),
        ({"cache": True, "cache_version": 1.5}, "cache_version='1.5'"),
        ({"environment": {"N": 1}}, "environment"),
        ({"environment": {1: "x"}}, "environment"),
        ({"environment": ["N=1"]}, "environment"),
        ({"cache": "yes"}, "'cache' is not of its type"),
        ({"interruptible": "yes"}, "'interruptible' is not of its type"),
        ({"docs": 123}, "'docs' is not of its type"),
        ({"name": 123}, "name=...) takes a string"),
    ],
)
def test_a_setting_of_the_wrong_type_is_refused_naming_it(
    options: dict[str, Any], said: str
) -> None:
    with pytest.raises(DefinitionError, match=re.escape(said)):
        _define(**options)


def test_the_right_types_still_run() -> None:
    inc = _define(cache=True, cache_version="2", environment={"N": "1"})
    assert inc.spec.cache.version == "2" and inc.spec.environment == {"N": "1"}

    @af.workflow
    def wf(x: int = 1) -> int:
        return inc(x=x)

    assert wf(x=1) == 2
