"""The prediction service: a FastAPI app that serves one registered model.

Routes: ``POST /predict`` (request and response schemas derived from the model's features
and the predictor's return type, so they are in the service's OpenAPI; bad input is a 422
naming the field), ``GET /health``, ``GET /metadata`` (version, lineage, metrics),
``GET /metrics`` (Prometheus: latency histogram, request and error counts, the version
served), ``GET /drift`` (each feature's mean, std and missing rate served vs. training).

Serving an alias (``name@production``) polls the registry; when the alias moves, the new
version is loaded beside the old one and swapped in with one reference assignment, so no
request fails or waits on the load. Requests are logged at ``sample_rate`` to the
``airfoil.ml.serve`` logger.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations, which
# name types built in create_service.
import importlib.util
import logging
import math
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pydantic

from airfoil.core.errors import ConfigError
from airfoil.ml._registry import LoadedModel, ModelRef, ModelRegistry, parse_ref

if TYPE_CHECKING:
    from fastapi import FastAPI

    from airfoil.ml._model import Model

__all__ = ["DriftTracker", "ModelService", "create_service", "find_model"]

_log = logging.getLogger("airfoil.ml.serve")
_JSON = "application/json"


class DriftTracker:
    """Running per-feature count, sum, sum of squares and missing count of served rows."""

    def __init__(
        self, features: list[str], baseline: dict[str, tuple[float, float, float]]
    ) -> None:
        self.features = features
        self.baseline = baseline
        self._lock = threading.Lock()
        self._rows = 0
        self._sum = [0.0] * len(features)
        self._sq = [0.0] * len(features)
        self._missing = [0] * len(features)

    def add(self, rows: list[dict[str, float | None]]) -> None:
        with self._lock:
            for row in rows:
                self._rows += 1
                for i, name in enumerate(self.features):
                    x = row.get(name)
                    if x is None or x != x:
                        self._missing[i] += 1
                    else:
                        self._sum[i] += x
                        self._sq[i] += x * x

    def report(self) -> dict[str, Any]:
        """Per feature: training and served mean, std, missing rate, and the mean's shift
        in training standard deviations."""
        with self._lock:
            rows, sums, sqs, missing = (
                self._rows,
                list(self._sum),
                list(self._sq),
                list(self._missing),
            )
        out: dict[str, Any] = {}
        for i, name in enumerate(self.features):
            seen = rows - missing[i]
            mean = sums[i] / seen if seen else 0.0
            std = math.sqrt(max(sqs[i] / seen - mean * mean, 0.0)) if seen else 0.0
            t_mean, t_std, t_missing = self.baseline.get(name, (0.0, 0.0, 0.0))
            shift = (
                abs(mean - t_mean) / t_std if t_std > 0 else (0.0 if mean == t_mean else math.inf)
            )
            out[name] = {
                "training": {"mean": t_mean, "std": t_std, "missing_rate": t_missing},
                "serving": {
                    "mean": mean,
                    "std": std,
                    "missing_rate": missing[i] / rows if rows else 0.0,
                },
                "mean_shift_in_std": shift if seen else 0.0,
            }
        return {"rows": rows, "features": out}


@dataclass(frozen=True)
class _Serving:
    loaded: LoadedModel
    drift: DriftTracker


class ModelService:
    """One served model: the version now serving, and the watcher that swaps it.

    Args:
        model: the model definition (its predictor and loader).
        registry: where its versions are.
        ref: ``name``, ``name:VERSION`` or ``name@ALIAS``.
        poll_s: how often an alias (or ``name``: the newest version) is checked.
        loaded: the version to serve first, if it was loaded already (else the one ``ref``
            names now is loaded).
    """

    def __init__(
        self,
        model: "Model",
        registry: ModelRegistry,
        ref: str | ModelRef,
        poll_s: float = 0.5,
        *,
        loaded: LoadedModel | None = None,
    ) -> None:
        self.model = model
        self.registry = registry
        self.ref = parse_ref(ref) if isinstance(ref, str) else ref
        self.poll_s = poll_s
        if loaded is None:
            self._current = self._load(registry.resolve(self.ref))
        else:
            self._current = _Serving(
                loaded, DriftTracker(loaded.features(), loaded.feature_stats())
            )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.swaps = 0
        #: How long a version that failed to load is left alone before it is tried again.
        self.retry_failed_s = 10.0
        self._failed: tuple[int, float] | None = None

    def _load(self, version: Any) -> _Serving:
        loaded = self.registry.load(self.model, version)
        return _Serving(loaded, DriftTracker(loaded.features(), loaded.feature_stats()))

    @property
    def current(self) -> LoadedModel:
        return self._current.loaded

    @property
    def drift(self) -> DriftTracker:
        return self._current.drift

    def check_once(self) -> bool:
        """Load and swap in the version the reference names now, if it changed."""
        found = self.registry.resolve(self.ref)
        if found.version == self._current.loaded.artifact.version:
            return False
        failed = self._failed
        if failed is not None and failed[0] == found.version and time.monotonic() < failed[1]:
            return False  # it failed to load a moment ago: keep serving, try again later
        old = self._current.loaded
        try:
            fresh = self._load(found)  # loaded beside the old one: requests keep being served
            if fresh.loaded.features() != old.features():
                # The request schema was built from the features served so far: a version
                # with other features would fail every request, so it is not swapped in.
                raise ConfigError(
                    f"{found.ref} takes other features than {old.artifact.ref} (the request "
                    "schema of this service): restart the service to serve it"
                )
        except Exception:
            self._failed = (found.version, time.monotonic() + self.retry_failed_s)
            raise
        self._failed = None
        self._current = fresh
        self.swaps += 1
        _log.info("now serving %s (was %s)", found.ref, old.artifact.ref)
        return True

    def start(self) -> None:
        """Start watching (a fixed ``name:VERSION`` is never watched)."""
        if self.ref.version is not None or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="airfoil-model-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.check_once()
            except Exception:  # keep serving the old version; say why
                _log.exception("checking %s for a new version failed", self.ref)


def _features_schema(name: str, features: list[str]) -> type[pydantic.BaseModel]:
    # Fields are named f0, f1... with the features' names as aliases, so any column name
    # (one with spaces, one starting with "_", "model_config") is a valid field.
    fields: dict[str, Any] = {
        f"f{i}": (float | None, pydantic.Field(..., alias=f)) for i, f in enumerate(features)
    }
    row = pydantic.create_model(f"{name}_features", **fields)  # type: ignore[call-overload]
    rows: Any = list.__class_getitem__(row)
    limits = pydantic.Field(min_length=1, max_length=10_000)
    return pydantic.create_model(f"{name}_request", features=(rows, limits))


def create_service(
    service: ModelService, *, sample_rate: float = 0.01, rng: Callable[[], float] | None = None
) -> "FastAPI":
    """The FastAPI app of a model service (start watching with ``app.router.lifespan``).

    Args:
        service: the model service.
        sample_rate: the share of requests logged (0 to 1).
        rng: the sampler (tests).
    """
    from contextlib import asynccontextmanager

    import prometheus_client as prom
    from fastapi import FastAPI
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import JSONResponse, Response

    model = service.model
    features = service.current.features()
    request_type = _features_schema(model.name, features)
    response_type = pydantic.create_model(  # type: ignore[call-overload]
        f"{model.name}_response",
        predictions=(model.predictor_return_type(), ...),
        version=(int, ...),
    )
    metrics = prom.CollectorRegistry()
    latency = prom.Histogram(
        "airfoil_predict_latency_seconds",
        "Time to answer /predict.",
        registry=metrics,
        buckets=(0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.5, 1.0),
    )
    requests = prom.Counter(
        "airfoil_predict_requests", "Answered /predict calls.", ["status"], registry=metrics
    )
    served = prom.Gauge("airfoil_model_version", "The model version serving.", registry=metrics)
    sample = rng or random.random

    @asynccontextmanager
    async def lifespan(app: "FastAPI") -> Any:
        service.start()
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(title=f"{model.name} prediction service", lifespan=lifespan)

    import numpy as np

    returns = pydantic.TypeAdapter(model.predictor_return_type())
    as_array = model.wants_array()
    frame: Any = None
    if not as_array:  # only a predictor that takes a frame needs pandas
        import pandas as pd

        frame = pd.DataFrame

    def predict_sync(rows: list[dict[str, float | None]]) -> tuple[Any, int]:

        serving = service._current  # one read: a swap mid-request does not mix versions
        # Drift watches what arrives, so rows the predictor fails on (a missing value it
        # cannot take) count too: that is when a rising missing rate matters.
        serving.drift.add(rows)
        # A float array then a frame: several times faster than from_records on dicts.
        values = np.array([[r[f] for f in features] for r in rows], dtype=float)
        given = values if frame is None else frame(values, columns=features)
        out = model.predict_with(serving.loaded.obj, given)
        return out, serving.loaded.artifact.version

    @app.post("/predict", response_model=response_type)
    async def predict(body: request_type) -> Any:  # type: ignore[valid-type]
        start = time.perf_counter()
        try:
            rows = [r.model_dump(by_alias=True) for r in body.features]  # type: ignore[attr-defined]
            predictions, version = predict_sync(rows)
            # Checked against the predictor's type, then written once (no second validation
            # of the response model; the schema in OpenAPI is the same).
            data = returns.dump_json(returns.validate_python(predictions))
        except Exception:
            requests.labels("error").inc()
            _log.exception("prediction failed")
            return JSONResponse(
                {"detail": "the predictor failed: see the service's log"}, status_code=500
            )
        requests.labels("ok").inc()
        latency.observe(time.perf_counter() - start)
        if sample() < sample_rate:
            _log.info(
                "predict version=%s rows=%s first=%s -> %s",
                version,
                len(rows),
                rows[0],
                predictions,
            )
        return Response(b'{"predictions":%b,"version":%d}' % (data, version), media_type=_JSON)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": model.name, "version": service.current.artifact.version}

    @app.get("/metadata")
    def metadata() -> dict[str, Any]:
        a = service.current.artifact
        return {
            "name": a.name,
            "version": a.version,
            "ref": str(service.ref),
            "created_at": a.created_at,
            "execution_id": a.execution_id,
            "lineage": a.lineage,
            "metrics": a.metrics,
            "features": features,
            "swaps": service.swaps,
        }

    @app.get("/drift")
    def drift() -> dict[str, Any]:
        return {"version": service.current.artifact.version, **service.drift.report()}

    @app.get("/metrics")
    async def prometheus() -> Response:
        served.set(service.current.artifact.version)
        data = await run_in_threadpool(prom.generate_latest, metrics)
        return Response(data, media_type=prom.CONTENT_TYPE_LATEST)

    return app


def find_model(path: str, name: str) -> Any:
    """The :class:`~airfoil.ml.Model` named ``name`` defined in the file ``path``.

    Raises:
        ConfigError: no such file, it fails to import, or defines no such model.
    """
    from airfoil.ml._model import Model

    if not path or not os.path.isfile(path):
        raise ConfigError(
            f"the file that defines model {name!r} ({path or 'unknown'}) is not here: "
            "pass it with --file"
        )
    full = os.path.abspath(path)
    module_name = os.path.splitext(os.path.basename(full))[0]
    if os.path.dirname(full) not in sys.path:
        sys.path.insert(0, os.path.dirname(full))
    module = sys.modules.get(module_name)
    if module is None or os.path.abspath(getattr(module, "__file__", "") or "") != full:
        spec = importlib.util.spec_from_file_location(module_name, full)
        if spec is None or spec.loader is None:
            raise ConfigError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(module_name, None)
            raise ConfigError(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    for value in vars(module).values():
        if isinstance(value, Model) and value.name == name:
            return value
    raise ConfigError(f"{path} defines no Model named {name!r}")
