"""A resource limit smaller than its request (memory limit 500Mi with a 1G request; cpu
likewise) is a DefinitionError naming both, when the task is defined or a node overrides one
side (Kubernetes refuses such a pod, Flyte such a task). Before 2026-12-06 it was accepted."""

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
    ("requests", "limits", "said"),
    [
        ({"mem": "1G"}, {"mem": "500Mi"}, "mem limit (524288000 bytes, 500Mi) is smaller than "
         "its request (1000000000 bytes"),
        ({"cpu": 2}, {"cpu": "500m"}, "cpu limit (0.5 cores) is smaller than its request (2 "),
        ({"gpu": 2}, {"gpu": 1}, "gpu limit (1 GPUs) is smaller than its request (2 GPUs)"),
    ],
)  # fmt: skip
def test_a_limit_below_its_request_is_refused_naming_both(
    requests: dict[str, Any], limits: dict[str, Any], said: str
) -> None:
    with pytest.raises(DefinitionError, match=re.escape(said)):
        _define(requests=af.Resources(**requests), limits=af.Resources(**limits))


def test_an_override_below_the_tasks_other_side_is_refused() -> None:
    inc = _define(limits=af.Resources(mem="1Gi"))
    with pytest.raises(DefinitionError, match=r"mem limit .* is smaller than its request"):

        @af.workflow
        def wf(x: int = 1) -> int:
            return inc(x=x).with_overrides(requests=af.Resources(mem="2Gi"))


@pytest.mark.parametrize(
    ("requests", "limits"),
    [
        ({"mem": "1G", "cpu": 1}, {"mem": "1G", "cpu": 2}),  # equal or above
        ({"mem": "1G"}, {"cpu": "500m"}),  # other resources: nothing to compare
        ({}, {"mem": "100Mi"}),  # a limit alone
        ({"cpu": 1}, {}),  # a request alone
    ],
)
def test_limits_at_or_above_requests_or_unset_are_fine(
    requests: dict[str, Any], limits: dict[str, Any]
) -> None:
    inc = _define(requests=af.Resources(**requests), limits=af.Resources(**limits))
    assert inc(x=1) == 2
