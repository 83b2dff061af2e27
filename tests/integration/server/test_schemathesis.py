"""Schemathesis over the whole OpenAPI spec against a real server on 127.0.0.1: requests
generated from the schema (valid and invalid), with a global admin key so they reach the
handlers, in a project that exists with an execution in it. No answer may be a server error
(5xx). Bounded (a fixed number of examples an operation, a fixed seed) to stay well under
two minutes."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from _srv import Running, start_server  # noqa: E402
from hypothesis import HealthCheck, seed, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

# serial: schemathesis's items of the operations all have one node id, and pytest-xdist runs
# one item per node id (it ran 1 of 57): `make test` runs this module in its serial run.
pytestmark = [pytest.mark.integration, pytest.mark.serial]

PROJECT = "fuzz"
EXAMPLES = 10


def _spec() -> dict[str, Any]:
    from airfoil.server import ServerConfig, create_app

    with tempfile.TemporaryDirectory() as home:
        spec: dict[str, Any] = create_app(ServerConfig(home=home, run_engine=False)).openapi()
    return spec


# Code packages are gzip bytes: generate them as any other binary body.
schemathesis.serializer.alias("application/gzip", "application/octet-stream")
schema = schemathesis.openapi.from_dict(_spec())


@pytest.fixture(scope="module")
def fuzzed(
    tmp_path_factory: pytest.TempPathFactory, flow: Any
) -> Iterator[tuple[Running, str, str]]:
    """A server (API only) with a global admin key and an execution in PROJECT."""
    from airfoil.client import Client

    home: Path = tmp_path_factory.mktemp("fuzz-home")
    old = os.environ.get("AIRFOIL_PACKAGE_CACHE")
    os.environ["AIRFOIL_PACKAGE_CACHE"] = str(home / "packages")
    running = start_server(home, None, run_engine=False)
    try:
        key = running.deps.registry.create_key("*", "admin")[1]
        with Client(running.url, key, project=PROJECT) as c:
            c.register([flow.wf, flow.file_text])
            ex = c.launch(flow.wf, {"x": 2})
        yield running, key, ex.id
    finally:
        running.stop()
        if old is None:
            os.environ.pop("AIRFOIL_PACKAGE_CACHE", None)
        else:
            os.environ["AIRFOIL_PACKAGE_CACHE"] = old


@schema.parametrize()
@seed(20261203)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error(case: Any, fuzzed: tuple[Running, str, str]) -> None:
    running, key, execution_id = fuzzed
    params = case.path_parameters or {}
    if "project" in params:
        params["project"] = PROJECT
    if "execution_id" in params and not case.path.endswith("/watch"):
        # (watching a run that never ends would stream forever: watch gets generated ids)
        params["execution_id"] = execution_id
    case.call_and_validate(
        base_url=running.url,
        headers={"Authorization": f"Bearer {key}"},
        checks=[not_a_server_error],
        timeout=30,
    )
