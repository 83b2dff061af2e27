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
import itertools
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
from airfoil.ml._model import MisalignedPredictions
from airfoil.ml._registry import LoadedModel, ModelRef, ModelRegistry, parse_ref
from airfoil.store.deployments import DEFAULT_PREDICT_TIMEOUT_S

if TYPE_CHECKING:
    from fastapi import FastAPI

    from airfoil.ml._model import Model

__all__ = ["DriftTracker", "ModelService", "create_service", "drift_shift", "find_model"]

_log = logging.getLogger("airfoil.ml.serve")
_JSON = "application/json"


def drift_shift(mean: float, t_mean: float, t_std: float) -> float | None:
    """How far ``mean`` is from the training mean, in training standard deviations; None
    (JSON ``null``: drifted past any measure) for a feature constant in training
    (``t_std`` 0) served with another mean. It was ``inf``, which JSON cannot hold: the
    service's ``/drift`` said ``null`` unflagged, a deployment's pooled drift said 0."""
    if t_std > 0:
        return abs(mean - t_mean) / t_std
    return 0.0 if mean == t_mean else None


class DriftTracker:
    """Per feature, the count, mean and spread of served rows, and the missing count.

    Numerically stable whatever the values: each batch's mean and sum of squared
    deviations are computed on the batch scaled by a power of two (two passes, so no
    ``E[x**2] - E[x]**2``), and merged into the running ones by Chan's pairwise formula,
    the running sum kept as ``scale**2 * ssq`` as LAPACK's ``dlassq`` keeps a sum of
    squares. So a feature around 1.7e9 (a timestamp) with a spread of 1 reports that spread,
    not the noise of ``E[x**2]``, and a value of 1e200 makes the spread huge, not infinite
    or NaN for ever after. Values that are not finite numbers count as missing (the service
    refuses them: a 422).
    """

    def __init__(
        self, features: list[str], baseline: dict[str, tuple[float, float, float]]
    ) -> None:
        import numpy as np

        self.features = features
        self.baseline = baseline
        self._lock = threading.Lock()
        self._rows = 0
        k = len(features)
        self._seen = np.zeros(k)
        self._mean = np.zeros(k)
        self._scale = np.zeros(k)  # sum of squared deviations / 4 = scale**2 * ssq
        self._ssq = np.zeros(k)

    def add(self, rows: list[dict[str, float | None]]) -> None:
        """Count served rows (a missing feature: None or NaN)."""
        import numpy as np

        names = self.features
        values = np.array([[r.get(f) for f in names] for r in rows], dtype=float)
        self.add_array(values.reshape(len(rows), len(names)))

    def add_array(self, values: Any) -> None:
        """Count served rows given as a float array, one column per feature (NaN: missing)."""
        import numpy as np

        rows = values.shape[0]
        if rows == 0:
            return
        finite = np.isfinite(values)
        everything = bool(finite.all())  # the common case: no missing value
        k = np.full(values.shape[1], float(rows)) if everything else finite.sum(axis=0) * 1.0
        x = values if everything else np.where(finite, values, 0.0)
        if rows == 1:  # one request's row (the common call): its own mean, no spread
            mean_b, c, q_b = x[0], 0.0, 0.0
        else:
            # a power of two within a factor 2 of each column's largest magnitude (scaled
            # values are below 2, and 2**1024 is never formed): scaling by it is exact
            c = np.ldexp(1.0, np.frexp(np.abs(x).max(axis=0))[1] - 1)
            xs = x / c
            m = xs.sum(axis=0) / np.maximum(k, 1.0)
            dev = xs - m
            if not everything:
                dev[~finite] = 0.0
            q_b = np.einsum("ij,ij->j", dev, dev) / 4.0  # squared deviations / (4 c**2)
            mean_b = m * c
        with self._lock:
            self._rows += rows
            n_a, mean_a, s_a, q_a = self._seen, self._mean, self._scale, self._ssq
            n = n_a + k
            w = k / np.maximum(n, 1.0)
            half = 0.5 * mean_b - 0.5 * mean_a  # finite for any two finite means
            hw = half * w
            cross = np.abs(half) if everything else np.abs(half) * (k > 0)
            # (delta / 2)**2 * n_a * k / n, the means' distance, is cross**2 * n_a * w
            top = np.maximum(np.maximum(s_a, c * (k > 0)), cross)
            safe = np.where(top > 0.0, top, 1.0)
            r_a, r_b, r_x = s_a / safe, c / safe, cross / safe
            self._ssq = q_a * r_a * r_a + q_b * r_b * r_b + r_x * r_x * n_a * w
            self._seen, self._mean, self._scale = n, mean_a + hw + hw, top

    def report(self) -> dict[str, Any]:
        """Per feature: training and served mean, std, missing rate, and the mean's shift
        in training standard deviations."""
        with self._lock:
            rows, counts, means, scales, ssqs = (
                self._rows,
                self._seen.tolist(),
                self._mean.tolist(),
                self._scale.tolist(),
                self._ssq.tolist(),
            )
        out: dict[str, Any] = {}
        for i, name in enumerate(self.features):
            seen = int(counts[i])
            mean = means[i]
            std = scales[i] * (2.0 * math.sqrt(ssqs[i] / seen)) if seen else 0.0
            t_mean, t_std, t_missing = self.baseline.get(name, (0.0, 0.0, 0.0))
            shift = drift_shift(mean, t_mean, t_std)
            out[name] = {
                "training": {"mean": t_mean, "std": t_std, "missing_rate": t_missing},
                "serving": {
                    "mean": mean,
                    "std": std,
                    "missing_rate": (rows - seen) / rows if rows else 0.0,
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

    def drift_report(self) -> dict[str, Any]:
        """The drift of the rows the version serving now has seen, with that version's
        number (``version``): both from one read of what serves, so a swap between two
        reads cannot pair one version's number with the other's statistics."""
        serving = self._current
        return {"version": serving.loaded.artifact.version, **serving.drift.report()}

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
        failing = ""  # the error of the failures in a row so far ("": the last poll worked)
        while not self._stop.wait(self.poll_s):
            try:
                self.check_once()
            except Exception as exc:  # keep serving the old version; say why
                said = f"{type(exc).__name__}: {exc}"
                if said != failing:  # its traceback once, not every poll (10 s when loading)
                    _log.exception("checking %s for a new version failed", self.ref)
                else:
                    _log.warning("checking %s for a new version failed again: %s", self.ref, said)
                failing = said
            else:
                if failing and self._failed is None:  # (not a failed version's pause)
                    _log.info("checking %s for a new version works again", self.ref)
                    failing = ""


def _not_json(sent: str) -> dict[str, Any]:
    """The 422 entry for a body not declared as JSON."""
    got = f"{sent!r}" if sent else "none"
    return {
        "type": "content_type",
        "loc": ["header", "content-type"],
        "msg": f"send the body as JSON with Content-Type: application/json (got {got}); "
        "with curl: --json '{...}' or -H 'Content-Type: application/json' -d '{...}'",
    }


#: The most rows one ``/predict`` request may carry.
MAX_ROWS = 10_000


def max_body(features: list[str]) -> int:
    """The most bytes a ``/predict`` body may hold: :data:`MAX_ROWS` rows of every feature,
    each written as ``"name": -1.2345678901234567e-300,`` with room for indentation (8
    spaces a level, three levels deep, fits).
    FastAPI reads and parses a body whole before it is validated, so a bigger one (a client's
    gigabytes) is refused unread."""
    per_row = sum(len(f.encode()) + 64 for f in features) + 64
    return MAX_ROWS * per_row + 4096


def _features_schema(name: str, features: list[str]) -> type[pydantic.BaseModel]:
    # Fields are named f0, f1... with the features' names as aliases, so any column name
    # (one with spaces, one starting with "_", "model_config") is a valid field. Strict: a
    # JSON number (or null), never true (1.0) nor a string ("3" read as 3.0): a client
    # sending the wrong thing for a feature gets a 422 naming it, not a prediction.
    # A field that is not a feature is a 422 too (a misspelt or a stale client's feature was
    # dropped unseen).
    fields: dict[str, Any] = {
        f"f{i}": (pydantic.StrictFloat | None, pydantic.Field(..., alias=f, allow_inf_nan=False))
        for i, f in enumerate(features)
    }
    forbid = pydantic.ConfigDict(extra="forbid")
    row = pydantic.create_model(f"{name}_features", __config__=forbid, **fields)  # type: ignore[call-overload]
    rows: Any = list.__class_getitem__(row)
    limits = pydantic.Field(min_length=1, max_length=MAX_ROWS)
    return pydantic.create_model(  # type: ignore[call-overload, no-any-return]
        f"{name}_request", __config__=forbid, features=(rows, limits)
    )


#: The most problems one 422 lists.
MAX_PROBLEMS = 20


def non_finite(value: Any, where: str = "predictions") -> list[str]:
    """Where ``value`` (a predictor's output, validated against its return type) holds a
    float (numpy's included, at any depth) that is not a finite number, as
    ``predictions[3]: inf`` (at most
    :data:`MAX_PROBLEMS`). JSON has no such number: pydantic writes it as ``null``, which the
    response schema (a number) does not allow."""
    out: list[str] = []
    stack: list[tuple[str, Any]] = [(where, value)]
    while stack and len(out) < MAX_PROBLEMS:
        path, v = stack.pop()
        if hasattr(v, "dtype") and hasattr(v, "tolist"):
            # a numpy scalar or array inside a list (``list(est.predict(x))``): a float32
            # is no ``float``, and its NaN was written as null in a 200
            v = v.tolist()
        if isinstance(v, float):
            if not math.isfinite(v):
                out.append(f"{path}: {v}")
        elif isinstance(v, pydantic.BaseModel):
            stack.extend((f"{path}.{k}", x) for k, x in reversed(list(v)))
        elif isinstance(v, dict):
            stack.extend((f"{path}[{k!r}]", x) for k, x in reversed(v.items()))
        elif isinstance(v, list | tuple):
            stack.extend((f"{path}[{i}]", x) for i, x in reversed(list(enumerate(v))))
    return out


class PredictionTimeout(TimeoutError):
    """The predictor did not answer a request within the service's prediction timeout."""


#: The most predictions running at once in one service (worker threads).
PREDICT_THREADS = 8


def as_python(value: Any) -> Any:
    """A predictor's numpy array, numpy scalar, pandas Series or tensor as Python values
    (``tolist``): unannotated (``list[Any]``) numpy labels were kept as numpy int64, which
    pydantic cannot write (every request a 500), and a float32 NaN was no ``float`` to
    :func:`non_finite`."""
    if isinstance(value, list | tuple | dict | str | bytes) or not hasattr(value, "tolist"):
        return value
    return value.tolist()


def _plain(value: Any) -> Any:
    """What pydantic writes for a value it has no serializer for: a numpy scalar or array
    inside the predictions (``list(estimator.predict(x))``) as its Python value."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"the predictor returned a {type(value).__name__}, not JSON data")


class NonFinitePrediction(ValueError):
    """The predictor answered a value that is not a finite number (see :func:`non_finite`)."""


def missing_values(rows: list[dict[str, float | None]], features: list[str]) -> list[Any]:
    """The 422's ``detail`` for the ``null`` features of ``rows`` (at most
    :data:`MAX_PROBLEMS`): where each is and that the model needs a number there."""
    out: list[Any] = []
    for i, r in enumerate(rows):
        for f in features:
            if r[f] is None:
                out.append(
                    {
                        "type": "missing_value",
                        "loc": ["body", "features", i, f],
                        "msg": "null (a missing value), which this model's predictor cannot "
                        "take: expected a number",
                    }
                )
                if len(out) == MAX_PROBLEMS:
                    return out
    return out


def create_service(
    service: ModelService,
    *,
    sample_rate: float = 0.01,
    rng: Callable[[], float] | None = None,
    key: str | None = None,
    key_scope: str | None = None,
    allowed_hosts: tuple[str, ...] = (),
    predict_timeout_s: float = DEFAULT_PREDICT_TIMEOUT_S,
) -> "FastAPI":
    """The FastAPI app of a model service (start watching with ``app.router.lifespan``).

    Args:
        service: the model service.
        sample_rate: the share of requests logged (0 to 1).
        rng: the sampler (tests).
        key: the key every route but ``/health`` needs; None: none, and requests must be
            addressed to localhost, an IP address or ``allowed_hosts``
            (:mod:`airfoil.ml._service_guard`).
        key_scope: what ``key`` was derived for (a server's replica: its deployment).
        allowed_hosts: the names besides those it answers under while it has no key.
        predict_timeout_s: how long a ``/predict`` request waits for the predictor (and
            for a worker thread to run it on) before it is a 504; a prediction running
            longer makes ``/health`` a 503 ``stuck`` until it ends.

    Raises:
        ConfigError: an allowed host that is no host name, or a timeout that is not a
            positive number.
    """
    if not (isinstance(predict_timeout_s, int | float) and 0 < predict_timeout_s < math.inf):
        raise ConfigError(
            f"invalid prediction timeout {predict_timeout_s!r}: give a positive number of "
            "seconds (--predict-timeout)"
        )
    from contextlib import asynccontextmanager

    import anyio
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
    from fastapi import HTTPException

    from airfoil.wire._body_limit import BodyLimit

    limit = max_body(features)
    too_large = f"the request body is larger than {limit} bytes: send at most {MAX_ROWS} rows"
    app.add_middleware(
        BodyLimit,
        limit=limit,
        error=lambda: HTTPException(413, too_large),
        answer=lambda: JSONResponse({"detail": too_large}, status_code=413),
    )
    from airfoil.ml._service_guard import ServiceGuard

    # Outermost: a request that may not call the service is refused before its body is read.
    app.add_middleware(ServiceGuard, key=key, key_scope=key_scope, allowed_hosts=allowed_hosts)

    from fastapi.exceptions import RequestValidationError

    some = ", ".join(f'"{f}": 0.5' for f in features[:2])
    shape = '{"features": [{' + some + (", ..." if len(features) > 2 else "") + "}, ...]}"

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Any, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer echoes each bad input, and an Infinity or NaN in it cannot be
        # written as JSON: the 422 became a 500. Where and why is what a caller needs.
        sent = request.headers.get("content-type") or ""
        if "json" not in sent.lower():
            # FastAPI reads a body as JSON only when it is declared so: `curl -d` declares a
            # form, and the 422 said only "Input should be a valid dictionary".
            return JSONResponse({"detail": [_not_json(sent)]}, status_code=422)
        keep = ("type", "loc", "msg")
        detail = [{k: e[k] for k in keep if k in e} for e in exc.errors()[:MAX_PROBLEMS]]
        for e in detail:
            if e.get("type") == "extra_forbidden" and len(e.get("loc", ())) == 4:
                e["msg"] = f"not a feature of this model; its features: {', '.join(features)}"
            elif e.get("type") == "extra_forbidden":
                e["msg"] = 'not a field of the request: send {"features": [{...}, ...]} only'
            elif e.get("type") == "missing" and len(e.get("loc", ())) == 4:
                e["msg"] += ": expected a number (or null for a missing value)"
            elif len(e.get("loc", ())) == 1:  # no body, null, a list...
                e["msg"] += f": expected {shape}"
        return JSONResponse({"detail": detail}, status_code=422)

    from fastapi.exception_handlers import http_exception_handler
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Any, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
            # FastAPI's body reader turns a JSON reader's error other than a decode error (a
            # number of over 4300 digits, nesting deeper than the interpreter's recursion)
            # into a 400 whose detail is a string, not the 422 every other bad body gets
            problem = {
                "type": "json_invalid",
                "loc": ["body"],
                "msg": "the body could not be read as JSON (a number with thousands of digits, "
                f"or arrays or objects nested thousands deep): expected {shape}",
            }
            return JSONResponse({"detail": [problem]}, status_code=422)
        return await http_exception_handler(request, exc)

    import numpy as np

    returns = pydantic.TypeAdapter(model.predictor_return_type())
    as_array = model.wants_array()
    frame: Any = None
    if not as_array:  # only a predictor that takes a frame needs pandas
        import pandas as pd

        frame = pd.DataFrame

    # Predictions run on worker threads (at most PREDICT_THREADS at once), never on the
    # event loop: a slow or hung predictor held every route of the service before (its
    # /health too, so a supervisor killed a replica with every request it held).
    running: dict[int, float] = {}  # the predictions in the predictor: their start
    tickets = itertools.count()
    threads: list[Any] = []  # the limiter, made on the service's event loop

    def stuck_for() -> float:
        """How long the oldest prediction running has run, if past the timeout (else 0)."""
        started = min(running.values(), default=None)
        took = 0.0 if started is None else time.monotonic() - started
        return took if took > predict_timeout_s else 0.0

    def predict_timed(rows: list[dict[str, float | None]]) -> tuple[Any, int]:
        ticket = next(tickets)
        running[ticket] = time.monotonic()
        try:
            return predict_sync(rows)
        finally:
            del running[ticket]

    async def predict_on_thread(rows: list[dict[str, float | None]]) -> tuple[Any, int]:
        if not threads:
            threads.append(anyio.CapacityLimiter(PREDICT_THREADS))
        with anyio.move_on_after(predict_timeout_s):
            return await anyio.to_thread.run_sync(
                predict_timed, rows, abandon_on_cancel=True, limiter=threads[0]
            )
        raise PredictionTimeout(
            f"the predictor did not answer within {predict_timeout_s:g} s (it may still be "
            "running: see the service's log); a model that needs longer: airfoil serve "
            "--predict-timeout SECONDS"
        )

    def predict_sync(rows: list[dict[str, float | None]]) -> tuple[Any, int]:
        serving = service._current  # one read: a swap mid-request does not mix versions
        # Drift watches what arrives, so rows the predictor fails on (a missing value it
        # cannot take) count too: that is when a rising missing rate matters.
        # A float array then a frame: several times faster than from_records on dicts.
        values = np.array([[r[f] for f in features] for r in rows], dtype=float)
        serving.drift.add_array(values)
        given = values if frame is None else frame(values, columns=features)
        out = model.predict_with(serving.loaded.obj, given)
        return out, serving.loaded.artifact.version

    @app.post("/predict", response_model=response_type)
    async def predict(body: request_type) -> Any:  # type: ignore[valid-type]
        start = time.perf_counter()
        rows: list[dict[str, float | None]] = []
        try:
            rows = [r.model_dump(by_alias=True) for r in body.features]  # type: ignore[attr-defined]
            predictions, version = await predict_on_thread(rows)
            # Checked against the predictor's type, then written once (no second validation
            # of the response model; the schema in OpenAPI is the same).
            # (one per row, in order: ``predict_with`` checked the count, see check_aligned)
            checked = returns.validate_python(as_python(predictions))
            data = returns.dump_json(checked, fallback=_plain)
            # pydantic writes NaN and infinities as null: a 200 whose number is null (and
            # inf, -inf and NaN all the same null) is no prediction; say which are not
            bad = non_finite(checked) if b"null" in data else []
            if bad:
                raise NonFinitePrediction(", ".join(bad))
        except PredictionTimeout as exc:
            requests.labels("timeout").inc()
            _log.error("prediction of %d rows timed out: %s", len(rows), exc)
            return JSONResponse({"detail": str(exc)}, status_code=504)
        except MisalignedPredictions as exc:
            requests.labels("error").inc()
            _log.error("%s", exc)
            return JSONResponse({"detail": f"{exc}; see the service's log"}, status_code=500)
        except NonFinitePrediction as exc:
            requests.labels("error").inc()
            _log.error("the predictor returned values that are not finite numbers: %s", exc)
            return JSONResponse(
                {
                    "detail": "the predictor returned values that are not finite numbers "
                    f"(JSON has none): {exc}; see the service's log"
                },
                status_code=500,
            )
        except Exception:
            nulls = missing_values(rows, features) if rows else []
            if nulls:  # a null the predictor cannot take: the caller's to fix, not a 500
                requests.labels("invalid").inc()
                _log.info("prediction failed on a missing value", exc_info=True)
                return JSONResponse({"detail": nulls}, status_code=422)
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
    async def health() -> Any:
        answer = {"status": "ok", "model": model.name, "version": service.current.artifact.version}
        took = stuck_for()
        if took:  # a supervisor (or an orchestrator's probe) restarts a service stuck so
            detail = (
                f"a prediction has been running for {took:.0f} s, past the prediction timeout "
                f"of {predict_timeout_s:g} s: the predictor hangs or needs a longer "
                "--predict-timeout"
            )
            return JSONResponse({**answer, "status": "stuck", "detail": detail}, status_code=503)
        return answer

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
        return service.drift_report()

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
