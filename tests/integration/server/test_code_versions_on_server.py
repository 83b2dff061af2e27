"""A cached task's code version as the server's worker computes it, from the package it
unpacked somewhere else than the client's checkout, is the one the client launched: code that
reads its module's ``__file__`` or a function's ``__name__`` is still cached on the server."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
from _srv import user_module

pytestmark = pytest.mark.integration

PROGRAM = textwrap.dedent(
    """
    from pathlib import Path

    import airfoil as af

    def label(f):
        return f.__name__

    @af.task(cache=True)
    def located(x: int) -> str:
        return f"{label(located)} {x} {(Path(__file__).parent / 'data.txt').name}"

    @af.workflow
    def where(x: int = 1) -> str:
        return located(x=x)
    """
)


@pytest.fixture(scope="module")
def locflow(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return user_module(tmp_path_factory.mktemp("locproj"), "locflow", PROGRAM, "where")


def test_a_task_reading_its_file_and_names_is_cached_on_the_server(
    client: Any, locflow: Any
) -> None:
    client.register([locflow.where])
    first = client.wait(client.launch(locflow.where, {"x": 4}).id, timeout=120)
    assert first.phase == "succeeded"
    assert [n.cache_status for n in first.nodes] == ["put"], [
        (n.cache_status, n.cache_reason) for n in first.nodes
    ]
    second = client.wait(client.launch(locflow.where, {"x": 4}).id, timeout=120)
    assert [n.cache_status for n in second.nodes] == ["hit"]
    assert client.outputs(second.id, locflow.where) == "located 4 data.txt"
