"""A name ending in a newline is refused like any other bad character.

On main the checks used ``re.match`` with ``$``, which also matches just before a final
``"\\n"``: ``airfoil run --name $'demo\\n'`` recorded an execution named ``demo\\n``, and
``Model("digits\\n")`` was a valid model name (the API's artifact routes check names with
the same function)."""

from __future__ import annotations

import pytest

from airfoil.core.errors import ConfigError
from airfoil.core.ids import validate_execution_id
from airfoil.ml._registry import parse_ref
from airfoil.store.artifacts import check_artifact_name

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", ["demo\n", "demo\r\n", "\n", "demo\nx", "Demo"])
def test_an_execution_name_ending_in_a_newline_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="invalid run name"):
        validate_execution_id(name, "run name")
    assert validate_execution_id("demo-1_a") == "demo-1_a"


@pytest.mark.parametrize("name", ["digits\n", "digits\r\n", "digits\nmore", "-digits"])
def test_an_artifact_name_ending_in_a_newline_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="invalid model name"):
        check_artifact_name(name, "model name")
    assert check_artifact_name("digits.v2-x_1") == "digits.v2-x_1"


def test_a_model_named_with_a_final_newline_is_refused() -> None:
    from airfoil.ml import Dataset, Model

    with pytest.raises(ConfigError, match="invalid model name 'digits\\\\n'"):
        Model("digits\n", init=dict, dataset=Dataset("d", targets=["y"]))
    # a reference is read stripped (a CLI argument pasted with its newline): the names in it
    # are what is checked
    assert parse_ref("digits@production\n") == parse_ref("digits@production")
