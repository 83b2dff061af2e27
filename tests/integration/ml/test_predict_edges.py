"""Predictions a user's own model makes awkward: a model trained on a frame built from a
numpy array (integer column names), and a prediction that is not a finite number.

On main ``model.predict`` refused the very frame the model was trained on ("was trained on
the features 0, 1, 2; the rows given lack 0, 1, 2": the features are recorded as text), and
``/predict`` answered an infinite prediction as a 200 ``{"predictions": [null]}`` (pydantic
writes infinities and NaN as ``null``; the response schema says a number) counted ``ok``."""

from __future__ import annotations

import time
import warnings
from typing import Any

import httpx
import pytest
from _in_thread import serve_in_thread
from _numbered import linear, numbered, numbered_reader

from airfoil.core.errors import ConfigError
from airfoil.ml import ModelRegistry, create_service
from airfoil.ml._serve import ModelService

pytestmark = pytest.mark.integration


def test_a_model_trained_on_integer_column_names_predicts_its_own_frame(
    registry: ModelRegistry,
) -> None:
    import pandas as pd

    with warnings.catch_warnings():  # pyarrow: "column names of mixed type" (stored as text)
        warnings.simplefilter("ignore", UserWarning)
        v1 = numbered.train(registry=registry)
    assert v1.artifact is not None and registry.load(numbered, v1.ref).features() == [
        "0",
        "1",
        "2",
    ]
    frame = numbered_reader(rows=6, seed=3).drop(columns=["label"])
    got = numbered.predict(frame, ref=v1.ref, registry=registry)  # main: ConfigError
    # as /predict reads rows: by the features' text, in their order
    as_text = frame.rename(columns=str)[["2", "0", "1"]]
    assert got == numbered.predict(as_text, ref=v1.ref, registry=registry)
    assert len(got) == 6 and set(got) <= {0, 1}
    both = frame.assign(**{"0": frame[0]})  # a column 0 and a column "0": which one?
    with pytest.raises(ConfigError, match=r"several columns named 0 \(0, '0'\)"):
        numbered.predict(both, ref=v1.ref, registry=registry)
    with pytest.raises(ConfigError, match="the rows given lack 2"):
        numbered.predict(pd.DataFrame({0: [1.0], 1: [2.0]}), ref=v1.ref, registry=registry)


def test_a_prediction_that_is_not_a_finite_number_is_not_a_200_with_null(
    registry: ModelRegistry,
) -> None:
    v1 = linear.train(registry=registry)
    server = serve_in_thread(
        create_service(ModelService(linear, registry, v1.ref)), log_level="warning"
    )
    try:

        def post(x: float) -> httpx.Response:
            body = {"features": [{"x": 1.0}, {"x": x}, {"x": -x}]}
            return httpx.post(server.url + "/predict", json=body, timeout=30)

        ok = post(2.0)
        assert ok.status_code == 200 and ok.json()["predictions"] == pytest.approx(
            [10.0, 20.0, -20.0]
        )
        r = post(1e308)  # a finite number, 10 times over the largest float
        assert r.status_code == 500, r.text  # main: 200 {"predictions": [10.0, null, null]}
        detail = r.json()["detail"]
        assert "not finite numbers" in detail and "predictions[1]: inf" in detail, detail
        assert "predictions[2]: -inf" in detail and "predictions[0]" not in detail, detail
        metrics = httpx.get(server.url + "/metrics").text
        assert 'airfoil_predict_requests_total{status="error"} 1.0' in metrics, metrics
        assert 'airfoil_predict_requests_total{status="ok"} 1.0' in metrics, metrics
    finally:
        server.stop()


def test_a_hung_predictor_blocks_neither_health_nor_other_requests_and_times_out(
    registry: ModelRegistry,
) -> None:
    """A prediction runs on a worker thread: while one hangs, ``/health``, ``/metrics`` and
    other clients' predictions answer; past its timeout it is a 504 naming it, and ``/health``
    says the service is stuck (a 503: a supervisor restarts it). Before, the predictor ran
    on the event loop: one hung request stopped every route of the service (a supervisor
    killed a replica whose one prediction took over 30 s, with every request it held)."""
    import threading

    from _numbered import release, slow

    v1 = slow.train(registry=registry)
    app = create_service(ModelService(slow, registry, v1.ref), predict_timeout_s=3.0)
    server = serve_in_thread(app, log_level="warning")
    hung: list[httpx.Response] = []
    try:
        post = server.url + "/predict"
        waiter = threading.Thread(
            target=lambda: hung.append(
                httpx.post(post, json={"features": [{"x": 99.0}]}, timeout=60)
            )
        )
        waiter.start()
        time.sleep(0.5)  # the hung request is in the predictor
        health = httpx.get(server.url + "/health", timeout=2)  # main: ReadTimeout
        assert health.status_code == 200 and health.json()["status"] == "ok", health.text
        ok = httpx.post(post, json={"features": [{"x": 1.0}]}, timeout=2)
        assert ok.status_code == 200 and ok.json()["predictions"] == pytest.approx([10.0])
        waiter.join(30)
        assert hung and hung[0].status_code == 504, hung
        assert "did not answer within 3 s" in hung[0].json()["detail"], hung[0].text
        stuck = httpx.get(server.url + "/health", timeout=2)  # it still runs, past 3 s
        assert stuck.status_code == 503 and stuck.json()["status"] == "stuck", stuck.text
        assert "running for" in stuck.json()["detail"], stuck.text
        metrics = httpx.get(server.url + "/metrics", timeout=2).text
        assert 'airfoil_predict_requests_total{status="timeout"} 1.0' in metrics, metrics
        release.set()  # it finishes: healthy again
        deadline = time.monotonic() + 10
        while httpx.get(server.url + "/health", timeout=2).status_code != 200:
            assert time.monotonic() < deadline, "still stuck after the prediction ended"
            time.sleep(0.1)
    finally:
        release.set()
        server.stop()


def test_fewer_predictions_than_rows_is_a_500_not_a_misaligned_200(
    registry: ModelRegistry,
) -> None:
    """A predictor that drops rows (``dropna`` on a row holding a null) answered 2
    predictions for 3 rows as a 200: the client pairs row 2 with row 3's prediction. The
    service says how many it got for how many rows (a 500, counted as an error)."""
    import pandas as pd
    from _numbered import dropper

    v1 = dropper.train(registry=registry)
    server = serve_in_thread(
        create_service(ModelService(dropper, registry, v1.ref)), log_level="critical"
    )
    try:
        post = server.url + "/predict"
        whole = httpx.post(post, json={"features": [{"x": 1.0}, {"x": 2.0}]}, timeout=30)
        assert whole.status_code == 200 and whole.json()["predictions"] == pytest.approx(
            [10.0, 20.0]
        )
        body = {"features": [{"x": 1.0}, {"x": None}, {"x": 2.0}]}
        r = httpx.post(post, json=body, timeout=30)
        assert r.status_code == 500, r.text  # main: 200 {"predictions": [10.0, 20.0]}
        detail = r.json()["detail"]
        assert "2 predictions for 3 rows" in detail, detail
        metrics = httpx.get(server.url + "/metrics", timeout=30).text
        assert 'airfoil_predict_requests_total{status="error"} 1.0' in metrics, metrics
    finally:
        server.stop()
    from airfoil.ml._model import MisalignedPredictions

    frame = pd.DataFrame({"x": [1.0, None, 2.0]})
    with pytest.raises(MisalignedPredictions, match="2 predictions for 3 rows"):
        dropper.predict(frame, ref=v1.ref, registry=registry)  # main: [10.0, 20.0]


def test_a_predictor_without_a_return_type_answering_numpy_labels_predicts(
    registry: ModelRegistry,
) -> None:
    """``return estimator.predict(features)`` with no return annotation (``list[Any]``): a
    classifier's labels are numpy int64 (not a Python int, unlike float64's float), which
    pydantic cannot write: every request was a 500 "the predictor failed" while
    ``model.predict`` answered. Arrays, numpy scalars in a list and booleans are answered as
    their Python values."""
    import numpy as np

    from airfoil.ml import Model

    v1 = linear.train(registry=registry)
    answers: dict[str, Any] = {
        "labels": lambda est, x: est.predict(x).astype(np.int64),
        "a list of numpy scalars": lambda est, x: list(est.predict(x).astype(np.int32)),
        "flags": lambda est, x: est.predict(x) > 15,
        "float32": lambda est, x: est.predict(x).astype(np.float32),
    }
    expected = {
        "labels": [10, 20],
        "a list of numpy scalars": [10, 20],
        "flags": [False, True],
        "float32": [10.0, 20.0],
    }
    for what, fn in answers.items():
        bare = Model("linear", init=linear.init, dataset=linear.dataset)
        bare.predictor(fn)
        server = serve_in_thread(
            create_service(ModelService(bare, registry, v1.ref)), log_level="critical"
        )
        try:
            body = {"features": [{"x": 1.0}, {"x": 2.0}]}
            r = httpx.post(server.url + "/predict", json=body, timeout=30)
            assert r.status_code == 200, (what, r.text)  # main: 500 "the predictor failed"
            assert r.json()["predictions"] == pytest.approx(expected[what]), (what, r.text)
        finally:
            server.stop()
