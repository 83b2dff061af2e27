"""Custom resources and accelerator kinds in a task's requests (placed by the ray executor):
recorded in the spec, validated at decoration time, and absent from the specs (so from the
versions) of tasks that do not ask for them."""

from __future__ import annotations

import msgspec
import pytest

import airfoil as af
from airfoil.core.errors import ConfigError, DefinitionError


def test_custom_resources_and_accelerator_are_recorded_in_the_spec() -> None:
    @af.task(requests=af.Resources(gpu=1, accelerator="A100", custom={"fast_disk": 1}))
    def train(x: int) -> int:
        return x

    spec = train.spec
    assert spec.requests.gpu == 1
    assert spec.custom_resources == {"fast_disk": 1.0}
    assert spec.accelerator == "A100"


def test_a_task_without_them_has_the_spec_it_always_had() -> None:
    @af.task(requests=af.Resources(cpu=1))
    def plain(x: int) -> int:
        return x

    encoded = msgspec.json.decode(msgspec.json.encode(plain.spec))
    assert "custom_resources" not in encoded and "accelerator" not in encoded


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"custom": {"": 1}}, "invalid custom resource name"),
        ({"custom": {" a": 1}}, "invalid custom resource name"),
        ({"custom": {"GPU": 1}}, "is reserved: ask for it with cpu=, mem= or gpu="),
        ({"custom": {"a": 0}}, "must be positive"),
        ({"custom": {"a": float("inf")}}, "must be positive"),
        ({"custom": {"a": "1"}}, "give a number"),
        ({"custom": {"a": True}}, "give a number"),
        ({"accelerator": " "}, "invalid accelerator"),
        ({"accelerator": "A 100"}, "invalid accelerator"),
    ],
)
def test_bad_custom_resources_are_config_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        af.Resources(**kwargs)  # type: ignore[arg-type]


def test_custom_resources_are_requests_not_limits() -> None:
    with pytest.raises(DefinitionError, match="requests, not limits"):

        @af.task(limits=af.Resources(custom={"fast_disk": 1}))
        def bad(x: int) -> int:
            return x
