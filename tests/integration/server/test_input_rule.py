"""One rule for a run's numeric inputs, locally and on a server (main: a local run took an
int of any size where a server refused it with a 422, and the server refused an infinite or
NaN float that a local run, the CLI (``--lr inf``) and the type engine take).

- An int input (anywhere in the value) fits a signed 64-bit integer: what every store and
  worker language holds, the server's documented bound. Outside it, both refuse naming the
  input, its size and the fix (a str, or a float).
- A float input may be infinite or NaN: JSON has no such number, so it travels as the type
  engine writes it, ``{"$float": "inf"}``; the bare ``Infinity`` token is refused naming
  that form.
"""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest

from airfoil.core.errors import InvalidInputError

pytestmark = pytest.mark.integration

BIG = 2**70


@pytest.fixture
def project(client: Any, flow: Any) -> str:
    client.register([flow.wf, flow.describe])
    return str(client.project)


def test_an_int_input_outside_64_bits_is_refused_locally_as_on_a_server(
    server: Any, client: Any, flow: Any, project: str
) -> None:
    for given in (BIG, -(2**63) - 1):
        with pytest.raises(InvalidInputError) as local:
            flow.wf(x=given)
        with pytest.raises(InvalidInputError) as remote:  # main: pydantic's ValidationError
            client.launch(flow.wf, {"x": given})
        for said in (str(local.value), str(remote.value)):
            assert "'x'" in said or "inputs.x" in said, said
            assert "outside the signed 64-bit range" in said and "as a str" in said, said
            assert f"an integer of {len(str(abs(given)))} digits" in said, said
    r = httpx.post(
        f"{server.url}/api/v1/projects/{project}/domains/development/executions",
        json={"entity": "flow.wf", "inputs": {"x": BIG}},
        timeout=30,
    )
    assert r.status_code == 422 and "as a str" in r.text, r.text
    # the edges still run, locally and on the server
    assert flow.wf(x=2**61) == 2**63
    ex = client.launch(flow.wf, {"x": -(2**61)})
    assert client.wait(ex.id, timeout=60).phase == "succeeded"


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_an_infinite_or_nan_float_input_runs_locally_as_on_a_server(
    server: Any, client: Any, flow: Any, project: str, value: float
) -> None:
    local = flow.describe(x=1, threshold=value)
    ex = client.launch(flow.describe, {"x": 1, "threshold": value})  # main: refused
    assert client.wait(ex.id, timeout=60).phase == "succeeded"
    assert client.outputs(ex.id, flow.describe) == local
    detail = client.get(ex.id)
    (given,) = [v for v in detail.inputs if v.name == "threshold"]
    word = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    assert given.preview == {"$float": word} or str(given.preview) in (word, repr(value)), given
    # the same value written by hand, and the bare token JSON does not have
    url = f"{server.url}/api/v1/projects/{project}/domains/development/executions"
    by_hand = {"x": 1, "threshold": {"$float": word}}
    r = httpx.post(url, json={"entity": "flow.describe", "inputs": by_hand})
    assert r.status_code in (200, 201), r.text
    token = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[word]
    body = '{"entity": "flow.describe", "inputs": {"x": 1, "threshold": ' + token + "}}"
    r = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and '{\\"$float\\": \\"inf\\"}' in r.text, r.text
