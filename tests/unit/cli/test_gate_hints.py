"""The ``airfoil signal`` command a waiting gate prints answers that very run: a name is
unique within its project and domain only, and the command looks a name up in
``AIRFOIL_DOMAIN`` first, so for a run outside it (``executions resume NAME --domain
staging`` from development) the hint names the run's domain (main: the bare name, which
signalled development's run of that name)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airfoil.cli._render import gates_waiting
from airfoil.core.phases import GateKind

pytestmark = pytest.mark.unit


def _state(domain: str) -> SimpleNamespace:
    gate = SimpleNamespace(kind=GateKind.APPROVE, name="ship")
    wait = SimpleNamespace(kind=GateKind.INPUT, name="threshold")
    nap = SimpleNamespace(kind=GateKind.SLEEP, name="nap")
    graph = {n: SimpleNamespace(gate=g) for n, g in (("n0", wait), ("n2", gate), ("n3", nap))}
    execution = SimpleNamespace(display_name="twin", domain=domain)
    return SimpleNamespace(graph=graph, execution=execution)


RUNNING = {n: SimpleNamespace(phase="running") for n in ("n0", "n2", "n3")}


def test_a_run_in_the_callers_domain_is_named_alone() -> None:
    assert gates_waiting(_state("development"), RUNNING, "development") == [
        "n0 waits for 'threshold': airfoil signal twin threshold VALUE",
        "n2 waits for 'ship': airfoil signal twin ship true|false",
    ]


def test_a_run_in_another_domain_is_named_with_its_domain() -> None:
    assert gates_waiting(_state("staging"), RUNNING, "development") == [
        "n0 waits for 'threshold': airfoil signal twin threshold VALUE --domain staging",
        "n2 waits for 'ship': airfoil signal twin ship true|false --domain staging",
    ]
