"""Every bad ``/predict`` body is a 422 (or a 413) naming where the problem is and what was
expected, against a model served over real HTTP (uvicorn), never a 500 nor a prediction.

On main a ``null`` feature reached the predictor, which could not take the missing value: a
500 "the predictor failed"; and a field that is not a feature was dropped unseen, a 200."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _in_thread import serve_in_thread
from _tiny import model

from airfoil.ml import ModelRegistry, create_service
from airfoil.ml._serve import ModelService
from airfoil.store.blob import open_blob_store
from airfoil.store.sql import SqlArtifactStore

pytestmark = pytest.mark.integration

ROW = {"a": 1.0, "b": 1.0, "c": 0.0}
A = ["body", "features", 0, "a"]  # where feature a of the first row is


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The URLs of the tiny model served as trained (a predictor that cannot take a missing
    value) and with a predictor that fills missing values."""
    from airfoil.ml import Model

    home = tmp_path_factory.mktemp("predict-bodies")
    store = SqlArtifactStore(f"sqlite:///{home / 'artifacts.db'}")
    registry = ModelRegistry(store, open_blob_store(str(home / "blobs")), "p")
    v1 = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120)
    filling = Model("tiny", init=model.init, dataset=model.dataset)
    filling.predictor(lambda est, x: [int(p) for p in est.predict(x.fillna(0.0))])
    servers = [
        serve_in_thread(create_service(ModelService(m, registry, v1.ref)), log_level="warning")
        for m in (model, filling)
    ]
    try:
        yield servers[0].url, servers[1].url
    finally:
        for s in servers:
            s.stop()
        store.close()


def _post(url: str, body: bytes) -> httpx.Response:
    return httpx.post(
        url + "/predict", content=body, headers={"Content-Type": "application/json"}, timeout=30
    )


def test_a_null_feature_is_a_422_naming_it_and_the_type(served: tuple[str, str]) -> None:
    url, filling = served
    body = b'{"features": [{"a": 1.0, "b": 1.0, "c": 0.0}, {"a": null, "b": 1.0, "c": null}]}'
    r = _post(url, body)
    assert r.status_code == 422, r.text  # main: 500 "the predictor failed"
    problems = r.json()["detail"]
    assert [p["loc"][2:] for p in problems] == [[1, "a"], [1, "c"]], problems
    assert all("null" in p["msg"] and "expected a number" in p["msg"] for p in problems), problems
    # a predictor that takes missing values still answers them
    r = _post(filling, body)
    assert r.status_code == 200 and len(r.json()["predictions"]) == 2, r.text
    metrics = httpx.get(url + "/metrics").text
    assert 'airfoil_predict_requests_total{status="error"}' not in metrics, metrics
    assert httpx.get(url + "/health").json()["status"] == "ok"


@pytest.mark.parametrize(
    ("body", "loc", "said"),
    [
        (b"null", ["body"], '{"features": [{"a": 0.5'),
        (b"", ["body"], '{"features": [{"a": 0.5'),
        (b"[]", ["body"], '{"features": [{"a": 0.5'),
        (b"not json", ["body", 0], "JSON"),
        # Python's JSON reader refuses these with other errors than a decode error: FastAPI
        # answered a 400 whose detail was a string ("There was an error parsing the body")
        (b'{"features": [{"a": ' + b"9" * 5000 + b', "b": 1.0, "c": 0.0}]}', ["body"], "JSON"),
        (b'{"features": [' + b"[" * 5000 + b"]" * 5000 + b"]}", ["body"], "JSON"),
        (b"{}", ["body", "features"], "required"),
        (b'{"features": null}', ["body", "features"], "list"),
        (b'{"features": [null]}', ["body", "features", 0], "object"),
        (b'{"features": [{"b": 1.0, "c": 0.0}]}', A, "a number"),
        (b'{"features": [{"a": "1", "b": 1.0, "c": 0.0}]}', A, "number"),
        (b'{"features": [{"a": true, "b": 1.0, "c": 0.0}]}', A, "number"),
        (b'{"features": [{"a": [1], "b": 1.0, "c": 0.0}]}', A, "number"),
        (
            b'{"features": [{"a": 1.0, "b": 1.0, "c": 0.0, "d": 2.0}]}',
            ["body", "features", 0, "d"],
            "its features: a, b, c",
        ),  # main: a 200, "d" dropped unseen
        (
            b'{"features": [{"a": 1.0, "b": 1.0, "c": 0.0}], "rows": 1}',
            ["body", "rows"],
            '{"features"',
        ),
    ],
)
def test_each_bad_body_is_a_422_naming_where(
    served: tuple[str, str], body: bytes, loc: list[Any], said: str
) -> None:
    url, _ = served
    r = _post(url, body)
    assert r.status_code == 422, r.text
    (problem,) = r.json()["detail"]
    assert problem["loc"] == loc and said in problem["msg"], problem


def test_a_huge_body_is_a_413_and_the_service_goes_on(served: tuple[str, str]) -> None:
    url, _ = served
    r = _post(url, b'{"features": [' + b"1," * 5_000_000 + b"1]}")
    assert r.status_code == 413 and "10000 rows" in r.text, r.text[:300]
    ok = httpx.post(url + "/predict", json={"features": [ROW]}, timeout=30)
    assert ok.status_code == 200 and ok.json()["predictions"] in ([0], [1]), ok.text
