"""The model layer for real: training and tuning run as recorded, cached workflows and
register versions with lineage; the prediction service answers over real HTTP (uvicorn) and
swaps versions under a steady client loop without failing a request."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from _deployments import until
from _in_thread import serve_in_thread
from _tiny import model

from airfoil.core.errors import ConfigError, NotFoundError
from airfoil.ml import ModelRegistry, create_service
from airfoil.ml._serve import ModelService

pytestmark = pytest.mark.integration


def test_training_is_a_cached_workflow_that_registers_lineage(registry: ModelRegistry) -> None:
    first = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120)
    assert first.ref == "tiny:1" and first.metrics["accuracy"] > 0.8
    lineage = first.artifact.lineage if first.artifact else {}
    assert lineage["execution_id"] == first.execution_id != ""
    assert json.loads(lineage["hyperparameters"]) == {"C": 1.0}
    assert lineage["code_version"] == model.code_version() and len(lineage["dataset_hash"]) == 64
    again = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120)
    assert again.ref == "tiny:1" and again.execution_id == first.execution_id
    # the fit came from the cache: its outputs name the first execution
    other = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=160)
    assert other.ref == "tiny:2" and other.artifact is not None
    assert other.artifact.lineage["dataset_hash"] != lineage["dataset_hash"]
    assert model.predict([{"a": 3.0, "b": 3.0, "c": 0.0}], ref="tiny:1", registry=registry) == [1]
    assert model.batch_predict(ref="tiny:2", registry=registry, rows=8) == model.predict(
        model.dataset.read(rows=8)[["a", "b", "c"]], ref="tiny:2", registry=registry
    )


def test_predict_in_python_reads_rows_as_the_service_does(registry: ModelRegistry) -> None:
    """On main ``model.predict`` handed the rows to the predictor as given: columns in another
    order or an extra column were scikit-learn's "feature names should match" ValueError
    (``/predict`` takes both), a missing feature the same error, no rows a numpy one."""
    import pandas as pd

    v1 = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120)
    row = {"a": 3.0, "b": 3.0, "c": 0.0}
    assert model.predict([row], ref=v1.ref, registry=registry) == [1]
    assert model.predict(pd.DataFrame([row])[["c", "b", "a"]], ref=v1.ref, registry=registry) == [1]
    assert model.predict([{**row, "id": 7}], ref=v1.ref, registry=registry) == [1]
    with pytest.raises(ConfigError, match=r"tiny:1 was trained on the features a, b, c; .* lack c"):
        model.predict([{"a": 1.0, "b": 2.0}], ref=v1.ref, registry=registry)
    with pytest.raises(ConfigError, match="no rows to predict"):
        model.predict([], ref=v1.ref, registry=registry)


def test_bad_hyperparameters_and_reader_arguments_are_named(registry: ModelRegistry) -> None:
    with pytest.raises(ConfigError, match="unknown hyperparameter 'Cee'"):
        model.train(hyperparameters={"Cee": 1.0}, registry=registry)
    with pytest.raises(ConfigError, match="no argument 'nrows'"):
        model.train(registry=registry, nrows=3)
    with pytest.raises(NotFoundError):
        registry.resolve("tiny@production")


def test_tune_maps_trials_and_registers_the_best(registry: ModelRegistry) -> None:
    best = model.tune(
        {"C": [0.0001, 0.001, 1.0, 10.0]}, trials=4, metric="accuracy", registry=registry, rows=120
    )
    assert len(best.trials) == 4
    assert best.metrics["accuracy"] == max(m["accuracy"] for _, m in best.trials)
    assert best.artifact is not None and best.artifact.version == 1
    with pytest.raises(ConfigError, match="metric 'f1' is not reported"):
        model.tune({"C": [1.0]}, trials=1, metric="f1", registry=registry, rows=120)


def test_tune_can_leave_out_trials_whose_fit_fails(registry: ModelRegistry) -> None:
    """A search space holding a value the estimator refuses (C=-1) failed the whole tune on
    main, with no way to keep the trials that trained."""
    from airfoil.core.errors import ExecutionFailedError

    space = {"C": [-1.0, 0.001, 1.0]}
    with pytest.raises(ExecutionFailedError, match="C"):
        model.tune(space, trials=3, metric="accuracy", registry=registry, rows=120)
    best = model.tune(
        space, trials=3, metric="accuracy", registry=registry, rows=120, min_success_ratio=0.5
    )
    assert sorted(hp["C"] for hp, _ in best.trials) == [0.001, 1.0]
    assert best.hyperparameters["C"] == 1.0 and best.ref == "tiny:1"


@pytest.mark.slow
def test_the_service_swaps_versions_under_load_without_failing(registry: ModelRegistry) -> None:
    v1 = model.train(hyperparameters={"C": 0.001}, registry=registry, rows=120)
    v2 = model.train(hyperparameters={"C": 10.0}, registry=registry, rows=120)
    registry.promote(v1.ref, "production")
    service = ModelService(model, registry, "tiny@production", poll_s=0.05)
    server = serve_in_thread(create_service(service, sample_rate=1.0), log_level="warning")
    seen: list[int] = []  # every answer's version, in the order the answers arrived
    per_client: list[list[int]] = [[], []]  # each client's answers, in its own order
    failures: list[str] = []
    stop = threading.Event()
    row = {"a": 0.5, "b": 0.2, "c": 0.25}

    def loop(mine: list[int]) -> None:
        with httpx.Client(base_url=server.url) as client:
            while not stop.is_set():
                try:
                    r = client.post("/predict", json={"features": [row]})
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text}")
                    else:
                        mine.append(r.json()["version"])
                        seen.append(mine[-1])
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    try:
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/health").json()["version"] == 1
            loops = [threading.Thread(target=loop, args=(mine,)) for mine in per_client]
            for t in loops:
                t.start()
            # Both clients answered by version 1 before the swap (not a fixed nap: on a loaded
            # machine a client's first answer came after it, and the first answer seen was 2),
            until("both clients answered by version 1", lambda: all(per_client) or failures)
            registry.promote(v2.ref, "production")
            # and by version 2 after it: each client's answers never go back (asserted below),
            # so every answer from here on is 2, the last one seen included.
            until(
                "both clients answered by version 2",
                lambda: all(mine[-1] == 2 for mine in per_client) or failures,
            )
            stop.set()
            for t in loops:
                t.join()
            assert failures == []
            assert seen[0] == 1 and seen[-1] == 2 and seen.index(2) > 0
            assert sorted(set(seen)) == [1, 2]
            # one swap, no going back: a client that got version 2 never gets 1 again (across
            # the two clients, an answer of 1 may still arrive after the other's first 2)
            assert all(mine == sorted(mine) for mine in per_client)
            assert client.get("/metadata").json()["lineage"]["execution_id"] == v2.execution_id
            bad = client.post("/predict", json={"features": [{"a": "x", "b": 1.0, "c": 1.0}]})
            assert bad.status_code == 422
            assert bad.json()["detail"][0]["loc"] == ["body", "features", 0, "a"]
            metrics = client.get("/metrics").text
            count = [
                ln
                for ln in metrics.splitlines()
                if ln.startswith("airfoil_predict_latency_seconds_count")
            ]
            assert float(count[0].split()[-1]) == len(seen)
            assert "airfoil_model_version 2.0" in metrics
            drift = client.get("/drift").json()
            assert drift["version"] == 2 and drift["rows"] == seen.count(2)
            assert drift["features"]["c"]["serving"]["missing_rate"] == 0.0
            assert drift["features"]["a"]["serving"]["mean"] == pytest.approx(0.5)
            schemas = client.get("/openapi.json").json()["components"]["schemas"]
            assert set(schemas["tiny_features"]["properties"]) == {"a", "b", "c"}
    finally:
        stop.set()
        server.stop(timeout=10)


def test_any_bytes_publish_as_a_partitioned_artifact(registry: ModelRegistry) -> None:
    first = registry.publish("rows", b"a,b\n1,2\n", partitions={"date": "2026-12-01"})
    second = registry.publish("rows", b"a,b\n3,4\n", partitions={"date": "2026-12-02"})
    again = registry.publish("rows", b"a,b\n1,2\n", partitions={"date": "2026-12-01"})
    assert (first.version, second.version, again.version) == (1, 2, 1)
    assert first.kind == "data" and registry.read_bytes(second) == b"a,b\n3,4\n"
    found = registry.artifacts.list_versions("p", "rows", {"date": "2026-12-02"})
    assert [v.version for v in found] == [2]


def _asgi(app: Any, method: str, path: str, body: Any = None) -> httpx.Response:
    import asyncio

    # Python's JSON text (Infinity and NaN allowed: what a careless client sends)
    content = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.request(method, path, content=content, headers=headers)

    return asyncio.run(call())


def test_drift_pairs_the_version_with_its_own_rows_when_a_swap_lands_mid_read(
    registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``/drift`` read the serving version twice on main (its number, then its statistics):
    a swap between the reads answered version 1's number with version 2's rows (none)."""
    from airfoil.ml._serve import _Serving

    v1 = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120)
    v2 = model.train(hyperparameters={"C": 2.0}, registry=registry, rows=160)
    registry.promote(v1.ref, "production")
    service = ModelService(model, registry, "tiny@production")
    app = create_service(service)
    rows = [{"a": 1.0, "b": 1.0, "c": 0.0}, {"a": 2.0, "b": 0.5, "c": 1.0}]
    assert _asgi(app, "POST", "/predict", {"features": rows}).json()["version"] == 1
    registry.promote(v2.ref, "production")
    first = service._current
    swapped: list[bool] = []

    class SwapsWhenItsVersionIsRead:
        """Version 1 as served, except that reading its artifact (the version) swaps
        version 2 in first (once): the watcher's swap landing between two reads."""

        def __getattr__(self, name: str) -> Any:
            return getattr(first.loaded, name)

        @property
        def artifact(self) -> Any:
            if not swapped:
                swapped.append(True)
                assert service.check_once()
            return first.loaded.artifact

    monkeypatch.setattr(service, "_current", _Serving(SwapsWhenItsVersionIsRead(), first.drift))  # type: ignore[arg-type]
    body = _asgi(app, "GET", "/drift").json()
    assert swapped and service.current.artifact.version == 2
    assert (body["version"], body["rows"]) == (1, 2)
    assert body["features"] == first.drift.report()["features"]
    after = _asgi(app, "GET", "/drift").json()
    assert (after["version"], after["rows"]) == (2, 0)


def test_a_broken_new_version_leaves_the_old_one_serving(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    from airfoil.core.errors import CorruptBlobError

    v1 = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120)
    v2 = model.train(hyperparameters={"C": 2.0}, registry=registry, rows=120)
    registry.promote(v1.ref, "production")
    service = ModelService(model, registry, "tiny@production")
    app = create_service(service)
    assert v2.artifact is not None
    path = registry.blobs.local_path(v2.artifact.uri)
    assert path is not None
    registry.promote(v2.ref, "production")
    # damaged after the promote (which refuses bytes that do not match their hash)
    Path(path).write_bytes(b"not the model")
    with pytest.raises(CorruptBlobError, match="tiny:2"):
        service.check_once()
    assert service.check_once() is False  # not reloaded on every poll
    row = {"a": 1.0, "b": 1.0, "c": 0.0}
    r = _asgi(app, "POST", "/predict", {"features": [row]})
    assert r.status_code == 200 and r.json()["version"] == 1


def test_bad_requests_and_a_failing_predictor(registry: ModelRegistry) -> None:
    from airfoil.ml import Dataset, Model

    v1 = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120)
    app = create_service(ModelService(model, registry, v1.ref))
    assert _asgi(app, "POST", "/predict", {"features": []}).status_code == 422
    many = {"features": [{"a": 1.0, "b": 1.0, "c": 1.0}] * 10_001}
    assert _asgi(app, "POST", "/predict", many).status_code == 422
    assert _asgi(app, "POST", "/predict", {"rows": []}).json()["detail"][0]["loc"] == [
        "body",
        "features",
    ]
    # A predictor that raises is a 500 counted as an error, and the service keeps going.
    broken = Model("tiny", init=model.init, dataset=Dataset("tiny", targets=["label"]))
    broken.predictor(_raises)
    bad_app = create_service(ModelService(broken, registry, v1.ref))
    r = _asgi(bad_app, "POST", "/predict", {"features": [{"a": 1.0, "b": 1.0, "c": 1.0}]})
    assert r.status_code == 500 and "predictor failed" in r.json()["detail"]
    metrics = _asgi(bad_app, "GET", "/metrics").text
    assert 'airfoil_predict_requests_total{status="error"} 1.0' in metrics
    assert _asgi(bad_app, "GET", "/health").json()["version"] == 1


def test_a_body_not_sent_as_json_is_a_422_naming_the_content_type(
    registry: ModelRegistry,
) -> None:
    """`curl URL -d '{"features": ...}'` (as docs/models.md showed) declares a form: on main the
    422 said only "Input should be a valid dictionary or object to extract fields from"."""
    import asyncio

    v1 = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120)
    app = create_service(ModelService(model, registry, v1.ref))
    body = json.dumps({"features": [{"a": 1.0, "b": 1.0, "c": 0.0}]}).encode()

    async def call(headers: dict[str, str]) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.post("/predict", content=body, headers=headers)

    for sent in ({"Content-Type": "application/x-www-form-urlencoded"}, {}):
        r = asyncio.run(call(sent))
        assert r.status_code == 422, r.text
        (problem,) = r.json()["detail"]
        assert problem["loc"] == ["header", "content-type"]
        assert "Content-Type: application/json" in problem["msg"], problem
    assert asyncio.run(call({"Content-Type": "application/json"})).status_code == 200


def test_a_non_finite_feature_is_a_422_and_leaves_drift_intact(registry: ModelRegistry) -> None:
    """On main ``{"a": Infinity}`` (Python's JSON reader takes it) reached the predictor, a 500
    "the predictor failed", and turned feature a's served mean and spread into null in every
    later ``/drift`` of the process."""
    v1 = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120)
    app = create_service(ModelService(model, registry, v1.ref))
    row = {"a": 1.0, "b": 1.0, "c": 0.0}
    for bad in (float("inf"), float("-inf"), float("nan")):
        r = _asgi(app, "POST", "/predict", {"features": [row, {**row, "a": bad}]})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", "features", 1, "a"], r.text
    assert _asgi(app, "POST", "/predict", {"features": [row, {**row, "a": 3.0}]}).status_code == 200
    served = _asgi(app, "GET", "/drift").json()
    assert served["rows"] == 2
    assert served["features"]["a"]["serving"] == {"mean": 2.0, "std": 1.0, "missing_rate": 0.0}


def test_a_feature_given_as_a_boolean_or_a_string_is_a_422(registry: ModelRegistry) -> None:
    """On main pydantic's lax mode read true as 1.0 and "3" as 3.0: a client sending the wrong
    field got a prediction. An integer is a number and stays accepted."""
    v1 = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120)
    app = create_service(ModelService(model, registry, v1.ref))
    row = {"a": 1.0, "b": 1, "c": 0}
    for bad in (True, "3", "1.5"):
        r = _asgi(app, "POST", "/predict", {"features": [row, {**row, "b": bad}]})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", "features", 1, "b"], r.text
    assert _asgi(app, "POST", "/predict", {"features": [row]}).status_code == 200


def test_a_body_past_the_largest_request_is_refused_unread(registry: ModelRegistry) -> None:
    """On main /predict read and parsed any body whole (FastAPI does so before validating
    it): a client's gigabytes of JSON held the service's memory before the 422 for rows past
    10,000. Now a body larger than the largest valid request is a 413, unread: declared in
    Content-Length, or streamed without one."""
    import asyncio

    from airfoil.ml._serve import MAX_ROWS, max_body

    v1 = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120)
    app = create_service(ModelService(model, registry, v1.ref))
    limit = max_body(["a", "b", "c"])
    # the largest valid request, indented as a generous client writes it, is answered
    widest = {"a": -1.2345678901234567e-300, "b": -1.2345678901234567e-300, "c": 0.0}
    biggest = json.dumps({"features": [widest] * MAX_ROWS}, indent=8).encode()
    assert len(biggest) < limit
    headers = {"Content-Type": "application/json"}

    async def post(content: Any) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.post("/predict", content=content, headers=headers)

    assert asyncio.run(post(biggest)).status_code == 200
    huge = b'{"features": [], "pad": "' + b"x" * limit + b'"}'
    r = asyncio.run(post(huge))
    assert r.status_code == 413, r.text
    assert f"larger than {limit} bytes: send at most {MAX_ROWS} rows" in r.json()["detail"]
    sent: list[int] = []

    async def chunks() -> Any:  # no Content-Length: refused once the bytes pass the limit
        for _ in range(100):
            sent.append(1)
            yield b" " * (limit // 10)

    r = asyncio.run(post(chunks()))
    assert r.status_code == 413, r.text
    assert len(sent) <= 12, "the rest of the body is never read"
    assert _asgi(app, "GET", "/health").json()["version"] == 1


def _raises(obj: Any, features: Any) -> list[int]:
    raise RuntimeError("boom")


def test_a_version_with_other_features_is_not_swapped_in(registry: ModelRegistry) -> None:
    from _tiny import reader, trainer

    from airfoil.ml import Dataset, Model

    v1 = model.train(hyperparameters={"C": 1.0}, registry=registry, rows=120)
    registry.promote(v1.ref, "production")
    service = ModelService(model, registry, "tiny@production")
    narrow = Model(
        "tiny", init=model.init, dataset=Dataset("tiny", targets=["label"], features=["a", "b"])
    )
    narrow.dataset.reader(reader)
    narrow.trainer(trainer)
    v2 = narrow.train(registry=registry, rows=120)
    assert v2.ref == "tiny:2"
    registry.promote(v2.ref, "production")
    with pytest.raises(ConfigError, match="other features"):
        service.check_once()
    assert service.current.artifact.version == 1


def test_a_metric_that_is_not_a_finite_number_still_registers_the_trained_model(
    registry: ModelRegistry,
) -> None:
    """On main the store's finite-metric check (right: JSON has no NaN) failed the whole
    training at its registration, after the fit: the model it trained was never registered,
    and a rerun hit the cached fit and failed again. Now the version is registered without
    that metric, which its metadata keeps as text, with a warning naming it."""
    from _odd import model as odd

    with pytest.warns(RuntimeWarning, match=r"'odd': the evaluator's accuracy=nan is not a fini"):
        trained = odd.train(hyperparameters={"C": 2.0}, registry=registry, rows=120)
    assert trained.ref == "odd:1" and trained.artifact is not None
    assert "accuracy" not in trained.artifact.metrics and "loss" in trained.artifact.metrics
    assert trained.artifact.metadata["metric.accuracy"] == "nan"
    assert registry.resolve("odd:1").metadata["metric.accuracy"] == "nan"  # as stored
    assert len(odd.predict([{"a": 1.0, "b": 0.0}], ref="odd:1", registry=registry)) == 1


@pytest.mark.parametrize("space", [[2.0, 0.01, 1.0], [0.01, 2.0, 1.0]])
def test_tune_ranks_a_trial_whose_metric_is_not_a_finite_number_last(
    registry: ModelRegistry, space: list[float]
) -> None:
    """NaN compares false both ways: on main ``max()`` kept the NaN trial when it came first,
    and registering it failed the tune."""
    from _odd import model as odd

    best = odd.tune({"C": space}, trials=3, metric="accuracy", registry=registry, rows=120)
    assert sorted(hp["C"] for hp, _ in best.trials) == sorted(space)
    assert best.hyperparameters["C"] != 2.0 and best.artifact is not None
    assert best.artifact.metrics["accuracy"] == best.metrics["accuracy"]
