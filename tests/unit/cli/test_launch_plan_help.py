"""``airfoil run FILE PLAN --help`` lists a launch plan's inputs with the plan's presets: main
listed the workflow's own (every input of a workflow without defaults ``[required]``,
the fixed ``currency`` as one to give, which a launch then refused)."""

from __future__ import annotations

import pytest

import airfoil as af
from airfoil.cli._inputs import input_help
from airfoil.types import TypeEngine

pytestmark = pytest.mark.unit


@af.task
def _report(region: str, currency: str, n: int, note: str = "") -> str:
    return f"{region}/{currency}/{n}{note}"


@af.workflow
def _sales(region: str, currency: str, n: int, note: str = "") -> str:
    return _report(region=region, currency=currency, n=n, note=note)


def test_a_launch_plans_help_shows_its_defaults_and_fixed_inputs() -> None:
    plan = af.LaunchPlan.get_or_create(
        _sales, "help_nightly", default_inputs={"region": "fr"}, fixed_inputs={"currency": "EUR"}
    )
    page = input_help(plan, TypeEngine(), "plans.py")
    lines = {line.split()[0]: line for line in page.splitlines() if line.startswith("  --")}
    assert "[default: 'fr']" in lines["--region"]
    assert "[fixed: 'EUR'" in lines["--currency"] and "cannot" in lines["--currency"]
    assert "[required]" in lines["--n"]
    assert "[default: ''" in lines["--note"]
    # the workflow's own page is unchanged
    own = input_help(_sales, TypeEngine(), "plans.py")
    assert "[required]" in next(x for x in own.splitlines() if x.startswith("  --region"))
